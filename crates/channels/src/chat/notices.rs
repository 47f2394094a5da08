//! The chat's own notices, in the customer's language: that a person takes over (now, or when
//! the team is back), and that one is taking the conversation over. One row per language the
//! classifier detects; a language without a row, or none, gets English.

/// (language tag, a person takes over now, a person answers when open again, one is taking over).
const HANDOFF: &[(&str, &str, &str, &str)] = &[
    (
        "en",
        "A person from our team will take over here. You can keep writing; we will answer in this chat.",
        "A person from our team will answer here when we are open again. You can keep writing.",
        "A person from our team takes this conversation over. You can keep writing here.",
    ),
    (
        "es",
        "Una persona de nuestro equipo te atenderá aquí. Puedes seguir escribiendo; te responderemos en este chat.",
        "Una persona de nuestro equipo te responderá aquí cuando volvamos a abrir. Puedes seguir escribiendo.",
        "Una persona de nuestro equipo se encarga de esta conversación. Puedes seguir escribiendo aquí.",
    ),
    (
        "fr",
        "Une personne de notre équipe va prendre le relais ici. Vous pouvez continuer à écrire ; nous vous répondrons dans ce chat.",
        "Une personne de notre équipe vous répondra ici dès notre réouverture. Vous pouvez continuer à écrire.",
        "Une personne de notre équipe prend en charge cette conversation. Vous pouvez continuer à écrire ici.",
    ),
    (
        "de",
        "Eine Person aus unserem Team übernimmt hier das Gespräch. Sie können weiterschreiben; wir antworten Ihnen in diesem Chat.",
        "Eine Person aus unserem Team antwortet Ihnen hier, sobald wir wieder geöffnet haben. Sie können weiterschreiben.",
        "Eine Person aus unserem Team übernimmt dieses Gespräch. Sie können hier weiterschreiben.",
    ),
    (
        "pt",
        "Uma pessoa da nossa equipe vai assumir o atendimento aqui. Você pode continuar escrevendo; responderemos neste chat.",
        "Uma pessoa da nossa equipe vai responder aqui quando voltarmos a abrir. Você pode continuar escrevendo.",
        "Uma pessoa da nossa equipe assume esta conversa. Você pode continuar escrevendo aqui.",
    ),
    (
        "it",
        "Una persona del nostro team prenderà in carico la conversazione qui. Puoi continuare a scrivere; ti risponderemo in questa chat.",
        "Una persona del nostro team ti risponderà qui quando riapriremo. Puoi continuare a scrivere.",
        "Una persona del nostro team prende in carico questa conversazione. Puoi continuare a scrivere qui.",
    ),
    (
        "nl",
        "Iemand van ons team neemt het hier over. Je kunt blijven schrijven; we antwoorden in deze chat.",
        "Iemand van ons team antwoordt hier zodra we weer open zijn. Je kunt blijven schrijven.",
        "Iemand van ons team neemt dit gesprek over. Je kunt hier blijven schrijven.",
    ),
    (
        "tr",
        "Ekibimizden biri burada görüşmeyi devralacak. Yazmaya devam edebilirsiniz; bu sohbetten yanıt vereceğiz.",
        "Ekibimizden biri yeniden açıldığımızda size buradan yanıt verecek. Yazmaya devam edebilirsiniz.",
        "Ekibimizden biri bu görüşmeyi devralıyor. Buraya yazmaya devam edebilirsiniz.",
    ),
    (
        "vi",
        "Một nhân viên của chúng tôi sẽ tiếp nhận tại đây. Bạn có thể tiếp tục nhắn; chúng tôi sẽ trả lời trong cuộc trò chuyện này.",
        "Một nhân viên của chúng tôi sẽ trả lời bạn tại đây khi chúng tôi mở cửa trở lại. Bạn có thể tiếp tục nhắn.",
        "Một nhân viên của chúng tôi đang tiếp nhận cuộc trò chuyện này. Bạn có thể tiếp tục nhắn tại đây.",
    ),
    (
        "id",
        "Seseorang dari tim kami akan melanjutkan di sini. Anda bisa terus menulis; kami akan menjawab di obrolan ini.",
        "Seseorang dari tim kami akan menjawab di sini saat kami buka kembali. Anda bisa terus menulis.",
        "Seseorang dari tim kami mengambil alih percakapan ini. Anda bisa terus menulis di sini.",
    ),
    (
        "ru",
        "Сотрудник нашей команды продолжит разговор здесь. Вы можете продолжать писать; мы ответим в этом чате.",
        "Сотрудник нашей команды ответит вам здесь, когда мы снова откроемся. Вы можете продолжать писать.",
        "Сотрудник нашей команды подключается к этому разговору. Вы можете продолжать писать здесь.",
    ),
    (
        "zh-Hans",
        "我们团队的工作人员将在这里接手。您可以继续输入，我们会在此聊天中回复您。",
        "我们恢复营业后，团队的工作人员会在这里回复您。您可以继续输入。",
        "我们团队的工作人员正在接手此对话。您可以继续在这里输入。",
    ),
    (
        "zh-Hant",
        "我們團隊的工作人員將在這裡接手。您可以繼續輸入，我們會在此聊天中回覆您。",
        "我們恢復營業後，團隊的工作人員會在這裡回覆您。您可以繼續輸入。",
        "我們團隊的工作人員正在接手此對話。您可以繼續在這裡輸入。",
    ),
    (
        "ja",
        "担当者がこちらで対応を引き継ぎます。このままメッセージをお送りください。このチャットでご返信いたします。",
        "営業再開後、担当者がこちらでご返信いたします。このままメッセージをお送りいただけます。",
        "担当者がこの会話を引き継ぎます。このままこちらでメッセージをお送りください。",
    ),
    (
        "ko",
        "저희 팀 담당자가 여기에서 이어서 도와드리겠습니다. 계속 메시지를 보내셔도 되며, 이 채팅에서 답변드리겠습니다.",
        "영업을 다시 시작하면 저희 팀 담당자가 여기에서 답변드리겠습니다. 계속 메시지를 보내셔도 됩니다.",
        "저희 팀 담당자가 이 대화를 이어받습니다. 여기에서 계속 메시지를 보내셔도 됩니다.",
    ),
    (
        "th",
        "เจ้าหน้าที่ของเราจะดูแลต่อที่นี่ คุณพิมพ์ข้อความต่อได้เลย เราจะตอบในแชทนี้",
        "เจ้าหน้าที่ของเราจะตอบกลับที่นี่เมื่อเราเปิดทำการอีกครั้ง คุณพิมพ์ข้อความต่อได้เลย",
        "เจ้าหน้าที่ของเรากำลังรับช่วงการสนทนานี้ คุณพิมพ์ข้อความต่อที่นี่ได้เลย",
    ),
    (
        "ar",
        "سيتولى أحد أعضاء فريقنا المحادثة هنا. يمكنك متابعة الكتابة، وسنرد عليك في هذه المحادثة.",
        "سيرد عليك أحد أعضاء فريقنا هنا عندما نعود إلى العمل. يمكنك متابعة الكتابة.",
        "يتولى أحد أعضاء فريقنا هذه المحادثة. يمكنك متابعة الكتابة هنا.",
    ),
    (
        "hi",
        "हमारी टीम का एक सदस्य यहाँ बातचीत आगे बढ़ाएगा। आप लिखना जारी रख सकते हैं; हम इसी चैट में जवाब देंगे।",
        "हमारे दोबारा खुलने पर हमारी टीम का एक सदस्य यहाँ जवाब देगा। आप लिखना जारी रख सकते हैं।",
        "हमारी टीम का एक सदस्य यह बातचीत संभाल रहा है। आप यहाँ लिखना जारी रख सकते हैं।",
    ),
    (
        "he",
        "נציג מהצוות שלנו ימשיך כאן. אפשר להמשיך לכתוב; נענה בצ'אט הזה.",
        "נציג מהצוות שלנו יענה כאן כשנחזור לפעילות. אפשר להמשיך לכתוב.",
        "נציג מהצוות שלנו מטפל עכשיו בשיחה הזו. אפשר להמשיך לכתוב כאן.",
    ),
    (
        "el",
        "Ένα μέλος της ομάδας μας θα αναλάβει τη συνομιλία εδώ. Μπορείτε να συνεχίσετε να γράφετε· θα σας απαντήσουμε σε αυτή τη συνομιλία.",
        "Ένα μέλος της ομάδας μας θα σας απαντήσει εδώ μόλις ανοίξουμε ξανά. Μπορείτε να συνεχίσετε να γράφετε.",
        "Ένα μέλος της ομάδας μας αναλαμβάνει αυτή τη συνομιλία. Μπορείτε να συνεχίσετε να γράφετε εδώ.",
    ),
];

/// Which notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// A person takes over now.
    Now,
    /// A person answers when the team is open again.
    WhenOpen,
    /// A person is taking the conversation over (a resumed conversation).
    UnderWay,
}

/// The row for a BCP 47 tag: exact (`zh-Hant`), else its Chinese script (`zh-TW` is
/// Traditional, other `zh` Simplified), else its primary language, else English.
fn row(language: &str) -> &'static (&'static str, &'static str, &'static str, &'static str) {
    let primary = language.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    let wanted = match primary.as_str() {
        "zh" => {
            let traditional = ["hant", "tw", "hk", "mo"]
                .iter()
                .any(|mark| language.to_ascii_lowercase().split(['-', '_']).any(|part| part == *mark));
            if traditional { "zh-Hant" } else { "zh-Hans" }
        }
        other => other,
    };
    HANDOFF.iter().find(|(tag, ..)| *tag == wanted).unwrap_or(&HANDOFF[0])
}

/// The notice in `language` (a BCP 47 tag; English when not served).
pub fn handoff_text(notice: Handoff, language: &str) -> &'static str {
    let (_, now, when_open, under_way) = row(language);
    match notice {
        Handoff::Now => now,
        Handoff::WhenOpen => when_open,
        Handoff::UnderWay => under_way,
    }
}

/// The languages with notices of their own.
pub fn languages() -> impl Iterator<Item = &'static str> {
    HANDOFF.iter().map(|(tag, ..)| *tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_gets_its_own_notices_and_others_get_english() {
        assert!(handoff_text(Handoff::Now, "zh-Hant").starts_with("我們團隊"));
        assert!(handoff_text(Handoff::Now, "zh-TW").starts_with("我們團隊"));
        assert!(handoff_text(Handoff::Now, "zh").starts_with("我们团队"));
        assert!(handoff_text(Handoff::WhenOpen, "de-AT").starts_with("Eine Person"));
        assert!(handoff_text(Handoff::UnderWay, "pt-BR").starts_with("Uma pessoa"));
        assert!(handoff_text(Handoff::Now, "").starts_with("A person"));
        assert!(handoff_text(Handoff::Now, "und").starts_with("A person"));
        assert!(handoff_text(Handoff::Now, "sw").starts_with("A person"));
    }

    #[test]
    fn every_language_the_classifier_detects_has_its_notices() {
        for tag in switchboard_nlu::language::supported() {
            assert!(languages().any(|served| served == tag), "no hand-off notice in {tag}");
        }
    }

    #[test]
    fn no_language_is_listed_twice_or_left_in_english() {
        let english = row("en");
        let mut seen = std::collections::HashSet::new();
        for (tag, now, when_open, under_way) in HANDOFF {
            assert!(seen.insert(*tag), "{tag} twice");
            assert!(!now.is_empty() && !when_open.is_empty() && !under_way.is_empty(), "{tag}");
            if *tag != "en" {
                assert!(*now != english.1 && *when_open != english.2 && *under_way != english.3, "{tag}");
            }
        }
    }
}
