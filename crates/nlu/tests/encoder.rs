//! The encoder's own forward pass (`embed/bert.rs`) against candle's `BertModel`, the reference
//! it replaces: the same weights give the same embeddings.

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use switchboard_nlu::embed::{MAX_TOKENS, SentenceEncoder, WordPiece};

fn encoder_dir() -> PathBuf {
    std::env::var_os("SWITCHBOARD_ENCODER_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.local/models/all-minilm-l6-v2")
    })
}

/// candle's model, one text unpadded: the mean of the token states, L2-normalised.
fn reference(model: &BertModel, ids: &[u32]) -> anyhow::Result<Vec<f32>> {
    let ids = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
    let mask = ids.ones_like()?;
    let states = model.forward(&ids, &ids.zeros_like()?, Some(&mask))?;
    let mean = states.mean(1)?.squeeze(0)?;
    let norm = mean.sqr()?.sum_all()?.sqrt()?;
    Ok(mean.broadcast_div(&norm)?.to_vec1()?)
}

fn texts() -> Vec<String> {
    let long = "My parcel was supposed to arrive last week but the tracking page still says it is \
                being prepared, and nobody answers the phone. "
        .repeat(8);
    [
        "",
        "Where is my order 12345?",
        "I forgot my password and can't log in.",
        "我想退貨，商品壞了",
        "Wo ist meine Bestellung? Ich warte seit zwei Wochen!",
        "refund",
        long.as_str(),
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn the_forward_pass_gives_candles_embeddings() -> anyhow::Result<()> {
    let directory = encoder_dir();
    let encoder = SentenceEncoder::load(&directory)?;
    let config: Config = serde_json::from_slice(&std::fs::read(directory.join("config.json"))?)?;
    let weights = VarBuilder::from_buffered_safetensors(
        std::fs::read(directory.join("model.safetensors"))?,
        DType::F32,
        &Device::Cpu,
    )?;
    let model = BertModel::load(weights, &config)?;
    let tokenizer = WordPiece::from_vocabulary(&std::fs::read_to_string(directory.join("vocab.txt"))?)?;
    for text in texts() {
        let ids = tokenizer.encode(&text, MAX_TOKENS);
        let expected = reference(&model, &ids)?;
        let got = encoder.embed(&[text.as_str()])?.concat();
        assert_eq!(got.len(), expected.len(), "{text:?}");
        let cosine: f32 = got.iter().zip(&expected).map(|(a, b)| a * b).sum();
        let largest = got.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(cosine > 0.99999, "{text:?}: cosine {cosine}");
        assert!(largest < 1e-4, "{text:?}: a dimension differs by {largest}");
    }
    Ok(())
}

#[test]
fn a_batch_gives_each_texts_own_embedding_in_order() -> anyhow::Result<()> {
    let encoder = SentenceEncoder::load(&encoder_dir())?;
    let texts = texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = encoder.embed(&refs)?;
    assert_eq!(batch.len(), texts.len());
    for (text, embedding) in refs.iter().zip(&batch) {
        assert_eq!(&encoder.embed(&[text])?.concat(), embedding, "{text:?}");
        let length: f32 = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-5, "{text:?}: length {length}");
    }
    assert!(encoder.embed(&[])?.is_empty());
    Ok(())
}
