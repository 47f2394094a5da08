//! BERT's forward pass for one text at a time, on CPU, for the short texts a search embeds.
//!
//! The same computation as candle's `BertModel` (embeddings, then per layer self-attention and
//! the feed-forward block, each followed by a residual layer norm), written for one unpadded
//! sequence: no attention mask, no packing of the weights for each product, no thread pool. A
//! linear layer keeps its weights packed once in tiles of 16 outputs and computes a tile for 4
//! tokens at a time in eight vector registers, so each weight is read once per four tokens and no
//! sum is reduced across lanes; it runs in AVX2 when the processor has it (`pulp` dispatches at run
//! time, safely). The weights are loaded by candle from the same file.

use candle_core::DType;
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use pulp::{Arch, Simd, WithSimd};

/// Lanes of the attention's dot products: two AVX2 registers (four SSE ones).
const LANES: usize = 16;
/// Outputs of a tile: the weights are stored tile by tile, each tile's `PACK` weights of an
/// input side by side, so that a tile is read as one contiguous stream.
const PACK: usize = 16;
/// Tokens of a tile: each weight loaded serves four tokens, and the eight registers of sums are
/// independent, so the additions do not wait on each other.
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

/// `y = x Wᵀ + b`, the weights packed in tiles of `PACK` outputs (the last padded with zeros):
/// weight `(o, i)` at `((o / PACK) · inputs + i) · PACK + o % PACK`.
struct Linear {
    packed: Vec<f32>,
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
        let weight = tensor(weights, &[outputs, inputs], "weight")?;
        Ok(Self::from_rows(&weight, tensor(weights, &[outputs], "bias")?, inputs))
    }

    /// From `weight` row-major (one row of `inputs` per output).
    fn from_rows(weight: &[f32], bias: Vec<f32>, inputs: usize) -> Self {
        let outputs = bias.len();
        let mut packed = vec![0.0; outputs.div_ceil(PACK) * PACK * inputs];
        for (o, row) in weight.chunks_exact(inputs).enumerate() {
            for (i, w) in row.iter().enumerate() {
                packed[((o / PACK) * inputs + i) * PACK + o % PACK] = *w;
            }
        }
        Self { packed, bias, inputs }
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
    fn forward<S: Simd>(&self, simd: S, ids: &[u32]) -> Vec<f32> {
        let mut states = self.embeddings(ids);
        for layer in &self.layers {
            states = self.layer(simd, layer, &states);
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
    fn layer<S: Simd>(&self, simd: S, layer: &Layer, states: &[f32]) -> Vec<f32> {
        let context = self.attention(simd, layer, states);
        let mut attended = linear(simd, &context, &layer.attention_output);
        add_norm(&mut attended, states, &layer.attention_norm);
        let mut inner = linear(simd, &attended, &layer.intermediate);
        let activation = self.activation;
        inner.iter_mut().for_each(|x| *x = activate(activation, *x));
        let mut output = linear(simd, &inner, &layer.output);
        add_norm(&mut output, &attended, &layer.output_norm);
        output
    }

    /// Scaled dot-product attention per head over every token (one text: nothing is masked).
    #[inline(always)]
    fn attention<S: Simd>(&self, simd: S, layer: &Layer, states: &[f32]) -> Vec<f32> {
        let (hidden, heads) = (self.hidden, self.heads);
        let size = hidden / heads;
        let tokens = states.len() / hidden;
        let (query, key, value) = (
            linear(simd, states, &layer.query),
            linear(simd, states, &layer.key),
            linear(simd, states, &layer.value),
        );
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
    fn with_simd<S: Simd>(self, simd: S) -> Vec<f32> {
        self.bert.forward(simd, self.ids)
    }
}

/// `x` (one row per token) times `Wᵀ`, plus the bias, tile by tile, `TOKENS_AT_ONCE` tokens
/// at a time.
#[inline(always)]
fn linear<S: Simd>(simd: S, x: &[f32], layer: &Linear) -> Vec<f32> {
    let (inputs, outputs) = (layer.inputs, layer.outputs());
    let tokens = x.len() / inputs;
    let mut y: Vec<f32> = layer.bias.iter().copied().cycle().take(tokens * outputs).collect();
    for (tile, weights) in layer.packed.chunks_exact(inputs * PACK).enumerate() {
        for first_token in (0..tokens).step_by(TOKENS_AT_ONCE) {
            let block = Block { x, inputs, first_token, weights, outputs, first_output: tile * PACK };
            match tokens - first_token {
                1 => block.add_to::<S, 1>(simd, &mut y),
                2 => block.add_to::<S, 2>(simd, &mut y),
                3 => block.add_to::<S, 3>(simd, &mut y),
                _ => block.add_to::<S, TOKENS_AT_ONCE>(simd, &mut y),
            }
        }
    }
    y
}

/// A tile of a linear layer: its packed `weights` (`PACK` a input), for the tokens from
/// `first_token`.
struct Block<'a> {
    x: &'a [f32],
    inputs: usize,
    first_token: usize,
    weights: &'a [f32],
    outputs: usize,
    first_output: usize,
}

impl Block<'_> {
    /// Adds the tile's products for `N` tokens to `y`: for each input, the tile's weights times
    /// each token's value, in independent registers of sums (two a token with AVX2).
    #[inline(always)]
    fn add_to<S: Simd, const N: usize>(&self, simd: S, y: &mut [f32]) {
        let zero = simd.splat_f32s(0.0);
        let mut sums = [[zero; PACK]; N];
        let values: [&[f32]; N] =
            std::array::from_fn(|k| &self.x[(self.first_token + k) * self.inputs..][..self.inputs]);
        for (i, weights) in self.weights.chunks_exact(PACK).enumerate() {
            let (weights, _) = S::as_simd_f32s(weights);
            for (sum, value) in sums.iter_mut().zip(&values) {
                let value = simd.splat_f32s(value[i]);
                for (sum, weight) in sum.iter_mut().zip(weights) {
                    *sum = simd.mul_add_e_f32s(value, *weight, *sum);
                }
            }
        }
        let valid = PACK.min(self.outputs - self.first_output);
        for (k, sum) in sums.iter().enumerate() {
            let mut lanes = [0.0f32; PACK];
            let (registers, _) = S::as_mut_simd_f32s(&mut lanes);
            registers.iter_mut().zip(sum).for_each(|(lane, sum)| *lane = *sum);
            let start = (self.first_token + k) * self.outputs + self.first_output;
            y[start..start + valid].iter_mut().zip(lanes).for_each(|(y, s)| *y += s);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], weight: &[f32], bias: &[f32], inputs: usize) -> Vec<f32> {
        let mut y = Vec::new();
        for token in x.chunks_exact(inputs) {
            for (row, b) in weight.chunks_exact(inputs).zip(bias) {
                y.push(b + row.iter().zip(token).map(|(w, v)| w * v).sum::<f32>());
            }
        }
        y
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n as u32).map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    fn assert_close(got: &[f32], expected: &[f32], case: &str) {
        assert_eq!(got.len(), expected.len(), "{case}");
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-4, "{case}: {g} against {e}");
        }
    }

    /// Every number of tokens a tile can hold, and outputs that fill no whole tile.
    #[test]
    fn a_linear_layer_is_the_matrix_product_plus_the_bias_whatever_the_sizes() {
        for (inputs, outputs) in [(7, 19), (16, 16), (33, 40), (5, 3)] {
            let weight = values(inputs * outputs, 1);
            let bias = values(outputs, 2);
            let layer = Linear::from_rows(&weight, bias.clone(), inputs);
            for tokens in 1..=9 {
                let x = values(tokens * inputs, 3);
                let expected = naive(&x, &weight, &bias, inputs);
                let case = format!("{inputs}x{outputs}, {tokens} tokens");
                assert_close(&linear(pulp::Scalar::new(), &x, &layer), &expected, &case);
                #[cfg(target_arch = "x86_64")]
                if let Some(simd) = pulp::x86::V3::try_new() {
                    assert_close(&linear(simd, &x, &layer), &expected, &format!("{case}, AVX2"));
                }
            }
        }
    }
}
