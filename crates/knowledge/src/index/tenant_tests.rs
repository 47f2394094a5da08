//! The index keeps tenants apart: the same article id in two tenants is two documents, each
//! search and suggestion sees one tenant's, and an update or removal touches one tenant's only.

use super::*;

fn article(id: &str, locale: &str, title: &str, body: &str) -> IndexedArticle {
    IndexedArticle {
        article_id: id.into(),
        title: title.into(),
        body: body.into(),
        locale: locale.into(),
        ..IndexedArticle::default()
    }
}

fn of<'a>(tenant: &'a str, locale: &'a str) -> Filters<'a> {
    Filters { tenant, locale, ..Filters::default() }
}

/// acme and globex both have `returns-policy`, in their own words; only globex has `gift-cards`.
fn two_tenants() -> ArticleIndex {
    let mut index = ArticleIndex::open(None).expect("index opens");
    let acme =
        article("returns-policy", "en", "Returns policy", "Return any item within 30 days for a refund.");
    let globex = article(
        "returns-policy",
        "de",
        "Rückgaberecht",
        "Sie können jeden Artikel innerhalb von 14 Tagen zurückgeben und erhalten eine Erstattung.",
    );
    let gift_cards = article("gift-cards", "en", "Gift cards", "Gift cards never expire and refund nothing.");
    index.upsert_in("acme", &acme).expect("indexed");
    index.upsert_in("globex", &globex).expect("indexed");
    index.upsert_in("globex", &gift_cards).expect("indexed");
    index.commit().expect("committed");
    index
}

fn found(index: &ArticleIndex, query: &str, filters: &Filters<'_>) -> Vec<(String, String)> {
    let hits = index.search(query, filters, 10).expect("search");
    hits.into_iter().map(|hit| (hit.article_id, hit.title)).collect()
}

fn suggested(index: &ArticleIndex, typed: &str, filters: &Filters<'_>) -> Vec<String> {
    index.suggest_in(typed, filters, 10).expect("suggest").into_iter().map(|(id, _)| id).collect()
}

#[test]
fn each_tenant_finds_only_its_own_article_of_a_shared_id() {
    // Given two tenants' articles of the same id
    let index = two_tenants();
    // When each searches in every language
    let acme = found(&index, "return refund", &of("acme", ""));
    let globex = found(&index, "Artikel zurückgeben Erstattung", &of("globex", ""));
    // Then each gets its own text only
    assert_eq!(acme, [("returns-policy".to_string(), "Returns policy".to_string())]);
    assert_eq!(globex, [("returns-policy".to_string(), "Rückgaberecht".to_string())]);
    assert!(
        found(&index, "Artikel zurückgeben", &of("acme", "")).is_empty(),
        "globex's words, acme's search"
    );
}

#[test]
fn an_article_only_one_tenant_has_is_never_found_or_suggested_to_another() {
    // Given gift-cards in globex only
    let index = two_tenants();
    // When acme and globex search and type its title
    // Then only globex sees it
    assert!(found(&index, "gift cards expire", &of("acme", "en")).is_empty());
    assert!(suggested(&index, "gift ca", &of("acme", "en")).is_empty());
    assert_eq!(suggested(&index, "gift ca", &of("globex", "en")), ["gift-cards"]);
    assert_eq!(suggested(&index, "Returns pol", &of("acme", "en")), ["returns-policy"]);
    assert!(suggested(&index, "Rückgabe", &of("acme", "")).is_empty());
}

#[test]
fn removing_or_updating_one_tenants_article_leaves_the_others() {
    // Given two tenants' articles of the same id
    let mut index = two_tenants();
    // When acme's is replaced, then removed
    let newer = article("returns-policy", "en", "Returns, updated", "Return items within 60 days.");
    index.upsert_in("acme", &newer).expect("indexed");
    index.commit().expect("committed");
    assert_eq!(found(&index, "return items", &of("acme", "en"))[0].1, "Returns, updated");
    assert_eq!(
        found(&index, "Erstattung", &of("globex", "de"))[0].1,
        "Rückgaberecht",
        "globex's is untouched"
    );
    index.remove("acme", "returns-policy");
    index.commit().expect("committed");
    // Then acme's is gone and globex's stays
    assert!(found(&index, "return items", &of("acme", "")).is_empty());
    assert_eq!(found(&index, "Erstattung", &of("globex", "de"))[0].0, "returns-policy");
}

#[test]
fn calls_without_a_tenant_see_the_default_tenants_articles_only() {
    // Given acme's and globex's articles and one of the default tenant (offline tools index so)
    let mut index = two_tenants();
    index
        .upsert(&article("returns-policy", "en", "Default returns", "Return within a year."))
        .expect("indexed");
    index.commit().expect("committed");
    // When searching without a tenant
    let hits = found(&index, "return", &Filters { locale: "en", ..Filters::default() });
    // Then only the default tenant's article is found
    assert_eq!(hits, [("returns-policy".to_string(), "Default returns".to_string())]);
    assert_eq!(index.suggest("Default ret", "en", 5).expect("suggest").len(), 1);
    assert!(index.suggest("gift", "en", 5).expect("suggest").is_empty());
}

#[test]
fn an_index_written_with_an_older_schema_is_emptied_and_its_checkpoint_reset() {
    // Given a directory holding an index without the tenant fields, at sequence 42
    let directory = std::env::temp_dir().join(format!("switchboard-old-index-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&directory).expect("directory");
    let mut builder = Schema::builder();
    let article_id = builder.add_text_field("article_id", STRING | STORED);
    let old = Index::create_in_dir(&directory, builder.build()).expect("old index");
    let mut writer: IndexWriter = old.writer(WRITER_BYTES).expect("writer");
    writer.add_document(doc!(article_id => "returns-policy")).expect("added");
    let mut prepared = writer.prepare_commit().expect("prepared");
    prepared.set_payload("42");
    prepared.commit().expect("committed");
    drop((writer, old));
    // When this release opens it
    let index = ArticleIndex::open(Some(&directory)).expect("reopened");
    // Then it starts empty from the stream's beginning (the indexer replays every event)
    assert_eq!(index.checkpoint().expect("checkpoint"), 0);
    assert!(found(&index, "returns", &of("default", "")).is_empty());
    drop(index);
    std::fs::remove_dir_all(&directory).expect("cleaned up");
}
