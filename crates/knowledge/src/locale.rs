//! Locales: BCP 47 tags whose language is a known ISO 639-1 code (or one of a few ISO 639-3
//! codes without one), with optional script and region subtags: `en`, `pt-BR`, `zh-Hant`.

/// ISO 639-1 language codes.
const ISO_639_1: &str = "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co \
cr cs cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr \
ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg \
li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi \
pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl \
tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu";

/// Languages with only a three-letter code that customers commonly write in.
const ISO_639_3: &[&str] = &["fil", "yue", "haw", "ceb", "hmn", "nan", "wuu"];

/// `Ok` for a tag such as `en`, `pt-BR` or `zh-Hant`; otherwise what is wrong with it.
pub fn check(tag: &str) -> Result<(), String> {
    let shape_ok = tag.len() <= 35
        && tag.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if !shape_ok {
        return Err(format!("locale {tag:?} is not a BCP 47 tag such as en, pt-BR or zh-Hant"));
    }
    let language = tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
    let known =
        ISO_639_1.split_whitespace().any(|code| code == language) || ISO_639_3.contains(&language.as_str());
    if known {
        Ok(())
    } else {
        Err(format!(
            "locale {tag:?}: unknown language {language:?} (use an ISO 639-1 code such as en, es or zh)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn knows_languages_and_refuses_the_rest() {
        for tag in ["en", "pt-BR", "zh-Hant", "zh-Hant-TW", "EN-us", "fil"] {
            assert!(check(tag).is_ok(), "{tag}");
        }
        for tag in ["xx", "english", "en_US", "", "zh--Hant", "klingon"] {
            assert!(check(tag).is_err(), "{tag}");
        }
        assert!(check("xx").expect_err("unknown").contains("unknown language"));
    }
}
