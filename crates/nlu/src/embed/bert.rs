//! BERT's forward pass for one text at a time, on CPU, for the short texts a search embeds.
//!
//! The same computation as candle's `BertModel` (embeddings, then per layer self-attention and
//! the feed-forward block, each followed by a residual layer norm), written for one unpadded
//! sequence: no attention mask, no packing of the weights for a general matrix product, no
//! thread pool. A linear layer reads each weight row once and applies it to every token while
//! the row is in the L1 cache; its dot products run in AVX2 when the processor has it (`pulp`
//! dispatches at run time, safely). The weights are loaded by candle from the same file.

use candle_core::DType;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use pulp::{Arch, Simd, WithSimd};

/// Lanes of each dot product's sums: two AVX2 registers (four SSE ones).
const LANES: usize = 16;
/// Tokens a weight row is applied to at once: each row chunk loaded serves four sums, and the
/// eight registers of sums are independent, so the additions do not wait on each other.
const TOKENS_AT_ONCE: usize = 4;

pub(super) struct Bert {
    words: Vec<f32>,
    positions: Vec<f32>,
    segment: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    max_positions: usize,
    activation: HiddenAct,
    arch: Arch,
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_output: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

/// `y = x Wᵀ + b`, `weight` row-major, one row of `inputs` per output.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    epsilon: f32,
}

fn tensor(weights: &VarBuilder<'_>, shape: &[usize], name: &str) -> candle_core::Result<Vec<f32>> {
    weights.get(shape, name)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl Linear {
    fn load(weights: &VarBuilder<'_>, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        Ok(Self {
            weight: tensor(weights, &[outputs, inputs], "weight")?,
            bias: tensor(weights, &[outputs], "bias")?,
            inputs,
        })
    }

    fn outputs(&self) -> usize {
        self.bias.len()
    }
}

impl Norm {
    fn load(weights: &VarBuilder<'_>, size: usize, epsilon: f64) -> candle_core::Result<Self> {
        Ok(Self {
            weight: tensor(weights, &[size], "weight")?,
            bias: tensor(weights, &[size], "bias")?,
            epsilon: epsilon as f32,
        })
    }
}

impl Layer {
    fn load(weights: &VarBuilder<'_>, config: &Config) -> candle_core::Result<Self> {
        let (hidden, inner, epsilon) = (config.hidden_size, config.intermediate_size, config.layer_norm_eps);
        let attention = weights.pp("attention");
        let projection = |name: &str| Linear::load(&attention.pp("self").pp(name), hidden, hidden);
        Ok(Self {
            query: projection("query")?,
            key: projection("key")?,
            value: projection("value")?,
            attention_output: Linear::load(&attention.pp("output").pp("dense"), hidden, hidden)?,
            attention_norm: Norm::load(&attention.pp("output").pp("LayerNorm"), hidden, epsilon)?,
            intermediate: Linear::load(&weights.pp("intermediate").pp("dense"), hidden, inner)?,
            output: Linear::load(&weights.pp("output").pp("dense"), inner, hidden)?,
            output_norm: Norm::load(&weights.pp("output").pp("LayerNorm"), hidden, epsilon)?,
        })
    }
}

impl Bert {
    /// The weights as candle's `BertModel::load` finds them (with or without a `bert.` prefix).
    pub(super) fn load(weights: &VarBuilder<'_>, config: &Config) -> candle_core::Result<Self> {
        let weights = if weights.contains_tensor("embeddings.word_embeddings.weight") {
            weights.clone()
        } else {
            weights.pp("bert")
        };
        let hidden = config.hidden_size;
        let embeddings = weights.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&weights.pp(format!("encoder.layer.{i}")), config))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            words: tensor(&embeddings, &[config.vocab_size, hidden], "word_embeddings.weight")?,
            positions: tensor(
                &embeddings,
                &[config.max_position_embeddings, hidden],
                "position_embeddings.weight",
            )?,
            segment: tensor(&embeddings, &[config.type_vocab_size, hidden], "token_type_embeddings.weight")?,
            embedding_norm: Norm::load(&embeddings.pp("LayerNorm"), hidden, config.layer_norm_eps)?,
            layers,
            hidden,
            heads: config.num_attention_heads,
            max_positions: config.max_position_embeddings,
            activation: config.hidden_act,
            arch: Arch::new(),
        })
    }

    /// The mean of the last layer's token states, L2-normalised. `ids` are one text's tokens,
    /// `[CLS]` and `[SEP]` included; ids outside the vocabulary read as `[PAD]` (id 0).
    pub(super) fn embed(&self, ids: &[u32]) -> Vec<f32> {
        let ids = &ids[..ids.len().min(self.max_positions)];
        self.arch.dispatch(Forward { bert: self, ids })
    }

    /// Everything it calls is `#[inline(always)]`, so that it is compiled inside `pulp`'s
    /// function for the processor's features, with the vector instructions they allow.
    #[inline(always)]
    fn forward(&self, ids: &[u32]) -> Vec<f32> {
        let mut states = self.embeddings(ids);
        for layer in &self.layers {
            states = self.layer(layer, &states);
        }
        mean_normalised(&states, self.hidden)
    }

    #[inline(always)]
    fn embeddings(&self, ids: &[u32]) -> Vec<f32> {
        let hidden = self.hidden;
        let mut states = Vec::with_capacity(ids.len() * hidden);
        for (position, &id) in ids.iter().enumerate() {
            let id = if (id as usize + 1) * hidden <= self.words.len() { id as usize } else { 0 };
            let word = &self.words[id * hidden..][..hidden];
            let place = &self.positions[position * hidden..][..hidden];
            states.extend(word.iter().zip(place).zip(&self.segment[..hidden]).map(|((w, p), s)| w + p + s));
        }
        layer_norm(&mut states, &self.embedding_norm);
        states
    }

    #[inline(always)]
    fn layer(&self, layer: &Layer, states: &[f32]) -> Vec<f32> {
        let context = self.attention(layer, states);
        let mut attended = linear(&context, &layer.attention_output);
        add_norm(&mut attended, states, &layer.attention_norm);
        let mut inner = linear(&attended, &layer.intermediate);
        let activation = self.activation;
        inner.iter_mut().for_each(|x| *x = activate(activation, *x));
        let mut output = linear(&inner, &layer.output);
        add_norm(&mut output, &attended, &layer.output_norm);
        output
    }

    /// Scaled dot-product attention per head over every token (one text: nothing is masked).
    #[inline(always)]
    fn attention(&self, layer: &Layer, states: &[f32]) -> Vec<f32> {
        let (hidden, heads) = (self.hidden, self.heads);
        let size = hidden / heads;
        let tokens = states.len() / hidden;
        let (query, key, value) =
            (linear(states, &layer.query), linear(states, &layer.key), linear(states, &layer.value));
        let scale = 1.0 / (size as f32).sqrt();
        let mut context = vec![0.0; states.len()];
        let mut weights = vec![0.0; tokens];
        for head in 0..heads {
            let part = |token: usize| token * hidden + head * size..token * hidden + (head + 1) * size;
            for i in 0..tokens {
                let q = &query[part(i)];
                for (j, weight) in weights.iter_mut().enumerate() {
                    *weight = dot(q, &key[part(j)]) * scale;
                }
                softmax(&mut weights);
                let out = &mut context[part(i)];
                for (j, weight) in weights.iter().enumerate() {
                    out.iter_mut().zip(&value[part(j)]).for_each(|(o, v)| *o += weight * v);
                }
            }
        }
        context
    }
}

/// The text's forward pass, run by `pulp` with the processor's vector features enabled.
struct Forward<'a> {
    bert: &'a Bert,
    ids: &'a [u32],
}

impl WithSimd for Forward<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> Vec<f32> {
        self.bert.forward(self.ids)
    }
}

/// One row of `x` (per token) times every weight row. Each weight row is applied to all the
/// tokens before the next is read, so it is read from memory once.
#[inline(always)]
fn linear(x: &[f32], layer: &Linear) -> Vec<f32> {
    let (inputs, outputs) = (layer.inputs, layer.outputs());
    let tokens: Vec<&[f32]> = x.chunks_exact(inputs).collect();
    let mut y = vec![0.0; tokens.len() * outputs];
    let blocks = tokens.chunks_exact(TOKENS_AT_ONCE);
    let rest = blocks.remainder();
    for (o, row) in layer.weight.chunks_exact(inputs).enumerate() {
        let bias = layer.bias[o];
        for (b, block) in blocks.clone().enumerate() {
            for (k, sum) in dot_block(row, block).into_iter().enumerate() {
                y[(b * TOKENS_AT_ONCE + k) * outputs + o] = sum + bias;
            }
        }
        let done = tokens.len() - rest.len();
        for (k, token) in rest.iter().enumerate() {
            y[(done + k) * outputs + o] = dot(token, row) + bias;
        }
    }
    y
}

/// `row` dotted with each of `TOKENS_AT_ONCE` tokens, the row's chunks loaded once for all.
/// Written lane by lane over fixed-size chunks so that the compiler keeps the sums in vector
/// registers.
#[inline(always)]
fn dot_block(row: &[f32], tokens: &[&[f32]]) -> [f32; TOKENS_AT_ONCE] {
    let [a, b, c, d] = [tokens[0], tokens[1], tokens[2], tokens[3]];
    let (mut sa, mut sb, mut sc, mut sd) =
        ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
    let chunks = row.chunks_exact(LANES);
    let tail = row.len() - chunks.remainder().len();
    let rows = chunks.zip(a.chunks_exact(LANES)).zip(b.chunks_exact(LANES));
    for (((w, x), y), (z, v)) in rows.zip(c.chunks_exact(LANES).zip(d.chunks_exact(LANES))) {
        for lane in 0..LANES {
            sa[lane] += w[lane] * x[lane];
            sb[lane] += w[lane] * y[lane];
            sc[lane] += w[lane] * z[lane];
            sd[lane] += w[lane] * v[lane];
        }
    }
    let rest = |token: &[f32]| -> f32 { row[tail..].iter().zip(&token[tail..]).map(|(w, v)| w * v).sum() };
    let total = |sums: [f32; LANES]| -> f32 { sums.iter().sum() };
    [total(sa) + rest(a), total(sb) + rest(b), total(sc) + rest(c), total(sd) + rest(d)]
}

/// A dot product in `LANES` independent sums, which the compiler turns into vector registers.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[inline(always)]
fn add_norm(x: &mut [f32], residual: &[f32], norm: &Norm) {
    x.iter_mut().zip(residual).for_each(|(x, r)| *x += r);
    layer_norm(x, norm);
}

/// Each token's row to zero mean and unit variance, then scaled and shifted.
#[inline(always)]
fn layer_norm(x: &mut [f32], norm: &Norm) {
    let size = norm.weight.len();
    for row in x.chunks_exact_mut(size) {
        let mean = row.iter().sum::<f32>() / size as f32;
        let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / size as f32;
        let inverse = 1.0 / (variance + norm.epsilon).sqrt();
        for ((v, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
            *v = (*v - mean) * inverse * w + b;
        }
    }
}

#[inline(always)]
fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    x.iter_mut().for_each(|v| *v /= sum);
}

/// BERT's `gelu` is the exact one (with the error function); `gelu_approximate` the tanh form.
#[inline(always)]
fn activate(activation: HiddenAct, x: f32) -> f32 {
    match activation {
        HiddenAct::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
        HiddenAct::GeluApproximate => {
            let inner = (2.0 / std::f32::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + inner.tanh())
        }
        HiddenAct::Relu => x.max(0.0),
    }
}

fn mean_normalised(states: &[f32], hidden: usize) -> Vec<f32> {
    let tokens = (states.len() / hidden).max(1);
    let mut mean = vec![0.0f32; hidden];
    for row in states.chunks_exact(hidden) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= tokens as f32);
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        mean.iter_mut().for_each(|v| *v /= norm);
    }
    mean
}
