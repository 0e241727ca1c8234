//! The probability distributions the tests need, accurate to about 1e-14 relative including
//! far tails (no `1 − cdf` cancellation): standard normal, Student's t, χ² and binomial.

/// Standard normal density.
pub fn normal_pdf(x: f64) -> f64 {
    let _ = x;
    todo!("stats-core")
}

/// P(Z ≤ x).
pub fn normal_cdf(x: f64) -> f64 {
    let _ = x;
    todo!("stats-core")
}

/// P(Z > x), accurate far into the upper tail.
pub fn normal_sf(x: f64) -> f64 {
    let _ = x;
    todo!("stats-core")
}

/// The x with P(Z ≤ x) = p, for p in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    let _ = p;
    todo!("stats-core")
}

/// P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (not necessarily an integer).
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let _ = (t, df);
    todo!("stats-core")
}

/// P(T > t), accurate far into the upper tail.
pub fn student_t_sf(t: f64, df: f64) -> f64 {
    let _ = (t, df);
    todo!("stats-core")
}

/// The t with P(T ≤ t) = p, for p in (0, 1).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    let _ = (p, df);
    todo!("stats-core")
}

/// P(X > x) for χ² with `k` > 0 degrees of freedom.
pub fn chi_squared_sf(x: f64, k: f64) -> f64 {
    let _ = (x, k);
    todo!("stats-core")
}

/// P(X ≤ k) for X ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    let _ = (k, n, p);
    todo!("stats-core")
}

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    let _ = x;
    todo!("stats-core")
}
