//! Multinomial logistic regression over sparse vectors, fitted by stochastic gradient descent
//! with exact L2 regularisation (the weights are kept as `scale * v`, so the decay of every
//! weight costs one multiplication per step).

use super::features::Sparse;

/// Rows (features) by classes, row-major: a feature's class weights are contiguous.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    pub classes: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
}

impl Linear {
    /// Class scores before the softmax.
    pub fn logits(&self, x: &Sparse) -> Vec<f32> {
        let mut z = self.bias.clone();
        accumulate(&mut z, x, &self.weights, 1.0);
        z
    }

    pub fn fit(xs: &[Sparse], ys: &[u32], rows: usize, classes: usize, fit: Fit) -> Self {
        let mut v = vec![0.0_f32; rows * classes];
        let mut bias = vec![0.0_f32; classes];
        let mut scale = 1.0_f32;
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = SplitMix(fit.seed);
        let mut z = vec![0.0_f32; classes];
        for epoch in 0..fit.epochs {
            rng.shuffle(&mut order);
            let rate = fit.learning_rate / (1.0 + epoch as f32 * 0.5);
            let decay = 1.0 - rate * fit.l2;
            for &i in &order {
                z.copy_from_slice(&bias);
                accumulate(&mut z, &xs[i], &v, scale);
                softmax(&mut z);
                z[ys[i] as usize] -= 1.0;
                scale *= decay;
                let step = rate / scale;
                for &(f, value) in &xs[i] {
                    let row = &mut v[f as usize * classes..(f as usize + 1) * classes];
                    for (w, g) in row.iter_mut().zip(&z) {
                        *w -= step * value * g;
                    }
                }
                for (b, g) in bias.iter_mut().zip(&z) {
                    *b -= rate * g;
                }
                if scale < 1e-4 {
                    v.iter_mut().for_each(|w| *w *= scale);
                    scale = 1.0;
                }
            }
        }
        v.iter_mut().for_each(|w| *w *= scale);
        Self { classes, weights: v, bias }
    }
}

fn accumulate(z: &mut [f32], x: &Sparse, weights: &[f32], scale: f32) {
    let classes = z.len();
    for &(f, value) in x {
        let row = &weights[f as usize * classes..(f as usize + 1) * classes];
        let value = value * scale;
        for (s, w) in z.iter_mut().zip(row) {
            *s += value * w;
        }
    }
}

/// In place, numerically stable.
pub fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in z.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in z.iter_mut() {
        *s /= sum;
    }
}

/// Deterministic shuffles, so a training run can be reproduced.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_classes_are_learned_with_confidence() {
        // Feature 0 means class 0, feature 1 class 1, feature 2 is noise shared by both.
        let xs: Vec<Sparse> = (0..40).map(|i| vec![((i % 2) as u32, 1.0), (2, 0.5)]).collect();
        let ys: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
        let fit = Fit { epochs: 20, learning_rate: 0.5, l2: 1e-4, seed: 7 };
        let model = Linear::fit(&xs, &ys, 3, 2, fit);
        let mut z = model.logits(&vec![(1, 1.0)]);
        softmax(&mut z);
        assert!(z[1] > 0.9, "{z:?}");
    }

    #[test]
    fn shuffles_are_reproducible_permutations() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        SplitMix(3).shuffle(&mut a);
        SplitMix(3).shuffle(&mut b);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }
}
