//! When `Answer` is not confident enough, the articles the bot may ask the customer to choose
//! between instead of handing off: the best few hits that are still relevant to the question.

use crate::index::IndexHit;

/// Most alternatives `Answer` offers (the customer reads them all, then "none of these").
pub const MAX_ALTERNATIVES: u32 = 3;

/// Fewest alternatives worth a question: one would be a guess put as a question.
const MIN_ALTERNATIVES: usize = 2;

/// The relevance (BM25 mapped to 0..1) a lexical hit needs to be offered. Chosen on the
/// validation questions of the Bitext knowledge set (`make eval` prints the curve): from 0.3 to
/// 0.6 the same 10.4% of questions would be asked, 85.7% with the right article among the
/// options; 0.4 keeps a margin against offering articles that hardly match.
pub const LEXICAL_FLOOR: f32 = 0.4;

/// The relevance (blend of similarity and lexical confidence) a hybrid hit needs to be offered.
/// On the same validation questions, from 0.3 to 0.4: 16.2% asked, 99.2% with the right article
/// among the options; fewer above (15.4% at 0.5, 11.7% at 0.6).
pub const HYBRID_FLOOR: f32 = 0.4;

/// The hits to offer, best first: at most `max`, each at least `floor` relevant; none when fewer
/// than two are. `hits` are ranked best first and the best was not confident enough.
pub fn alternatives(hits: &[IndexHit], floor: f32, max: usize) -> &[IndexHit] {
    &hits[..offered(hits.iter().map(|hit| hit.relevance), floor, max)]
}

/// How many of the best hits, given their relevances best first, [`alternatives`] offers.
pub fn offered(relevances: impl IntoIterator<Item = f32>, floor: f32, max: usize) -> usize {
    let relevant = relevances.into_iter().take(max).take_while(|relevance| *relevance >= floor).count();
    if relevant < MIN_ALTERNATIVES { 0 } else { relevant }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, relevance: f32) -> IndexHit {
        IndexHit { article_id: id.into(), relevance, ..IndexHit::default() }
    }

    #[test]
    fn offers_the_best_relevant_hits_up_to_the_limit() {
        let hits = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7), hit("d", 0.6)];
        let offered: Vec<&str> = alternatives(&hits, 0.5, 3).iter().map(|h| h.article_id.as_str()).collect();
        assert_eq!(offered, ["a", "b", "c"]);
    }

    #[test]
    fn stops_at_the_first_hit_under_the_floor() {
        let hits = [hit("a", 0.9), hit("b", 0.6), hit("c", 0.2), hit("d", 0.6)];
        assert_eq!(alternatives(&hits, 0.5, 3).len(), 2);
    }

    #[test]
    fn offers_nothing_when_fewer_than_two_are_relevant() {
        assert!(alternatives(&[hit("a", 0.9), hit("b", 0.1)], 0.5, 3).is_empty());
        assert!(alternatives(&[hit("a", 0.9)], 0.5, 3).is_empty());
        assert!(alternatives(&[], 0.5, 3).is_empty());
        assert!(alternatives(&[hit("a", 0.9), hit("b", 0.9)], 0.5, 1).is_empty());
    }
}
