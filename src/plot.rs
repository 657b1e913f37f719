//! Plots as PNG: the training objective per epoch or iteration (and the validation loss when there
//! is one), and coefficients along a regularization path with the largest named. Text uses the
//! embedded DejaVu Sans, so no system fonts are needed.

use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Error, Result};

/// The plots' size in pixels.
const SIZE: (u32, u32) = (900, 540);

/// Draws with `paint` into an RGB bitmap in memory and encodes it as PNG: the caller writes the
/// bytes, with its other outputs, once everything has succeeded.
fn png(paint: impl FnOnce(&mut [u8]) -> std::result::Result<(), String>) -> Result<Vec<u8>> {
    let fail = |message: String| Error::Input { location: "the plot".into(), message };
    let mut rgb = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    paint(&mut rgb).map_err(fail)?;
    let mut bytes = vec![];
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut bytes),
        &rgb,
        SIZE.0,
        SIZE.1,
        image::ColorType::Rgb8,
    )
    .map_err(|e| fail(format!("encoding the PNG: {e}")))?;
    Ok(bytes)
}

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is valid"));
    });
}

fn draw(rgb: &mut [u8], step: &str, losses: &[f64], validation: &[f64]) -> std::result::Result<(), String> {
    register_font();
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let top = losses.iter().chain(validation).copied().fold(0.0, f64::max) * 1.05;
    // Epochs count from 1; an exact solver's objectives start at iteration 0 (the start).
    let first = usize::from(step == "epoch");
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("objective per {step}"), ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(first..(first + losses.len()).max(first + 1), 0.0..top.max(f64::MIN_POSITIVE))
        .map_err(|e| e.to_string())?;
    chart.configure_mesh().x_desc(step).y_desc("loss").draw().map_err(|e| e.to_string())?;
    for (values, color, label) in [(losses, BLUE, "training objective"), (validation, RED, "validation loss")] {
        if values.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(i, &v)| (i + first, v)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// The curves against `step` (`epoch` for SGD/Adam, `iteration` for the exact solvers), as the
/// bytes of a PNG file.
pub fn loss_curves(step: &str, losses: &[f64], validation: &[f64]) -> Result<Vec<u8>> {
    png(|rgb| draw(rgb, step, losses, validation))
}

/// Lines named in the path plot's legend: the coefficients largest at the path's end.
const NAMED: usize = 8;

/// Each coefficient against log₁₀ λ (a regularization path), as the bytes of a PNG file; the
/// legend names the 8 largest at the smallest λ (`names`: one per coefficient).
pub fn coefficient_paths(lambdas: &[f64], coefs: &[Vec<f64>], names: &[String]) -> Result<Vec<u8>> {
    png(|rgb| draw_paths(rgb, lambdas, coefs, names))
}

fn draw_paths(
    rgb: &mut [u8],
    lambdas: &[f64],
    coefs: &[Vec<f64>],
    names: &[String],
) -> std::result::Result<(), String> {
    register_font();
    let root = BitMapBackend::with_buffer(rgb, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let xs: Vec<f64> = lambdas.iter().map(|l| l.log10()).collect();
    let (lo, hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let top = coefs.iter().flatten().fold(0.0f64, |m, c| m.max(c.abs())).max(1e-12) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption("coefficients along the regularization path", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..hi, -top..top)
        .map_err(|e| e.to_string())?;
    chart.configure_mesh().x_desc("log10 lambda").y_desc("coefficient").draw().map_err(|e| e.to_string())?;
    let features = coefs.first().map_or(0, Vec::len);
    let mut order: Vec<usize> = (0..features).collect();
    let last = coefs.last().cloned().unwrap_or_default();
    order.sort_by(|&a, &b| last[b].abs().total_cmp(&last[a].abs()));
    let named: Vec<usize> = order.iter().copied().take(NAMED).filter(|&j| last[j] != 0.0).collect();
    for j in 0..features {
        let color = Palette99::pick(j).stroke_width(2);
        let series = chart
            .draw_series(LineSeries::new(xs.iter().zip(coefs).map(|(&x, c)| (x, c[j])), color))
            .map_err(|e| e.to_string())?;
        if named.contains(&j) {
            let name = names.get(j).cloned().unwrap_or_else(|| format!("x{j}"));
            series.label(name).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], color));
        }
    }
    if !named.is_empty() {
        chart
            .configure_series_labels()
            // λ_max's end, on the right, is where every coefficient is zero: room for the legend.
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PNG's width and height, from its IHDR chunk.
    fn size(png: &[u8]) -> (u32, u32) {
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
        let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        (word(16), word(20))
    }

    #[test]
    fn draws_a_png_with_both_curves() {
        let losses: Vec<f64> = (0..50).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let validation: Vec<f64> = losses.iter().map(|l| l * 1.2).collect();
        let both = loss_curves("epoch", &losses, &validation).unwrap();
        assert_eq!(size(&both), SIZE);
        assert!(both.len() > 5_000, "{} bytes", both.len());
        let one = loss_curves("iteration", &losses, &[]).unwrap();
        assert_ne!(both, one, "the validation curve is drawn");
    }

    #[test]
    fn draws_coefficient_paths() {
        let lambdas = [1.0, 0.1, 0.01];
        let coefs = vec![vec![0.0, 0.0], vec![0.5, 0.0], vec![1.0, -0.3]];
        assert_eq!(size(&coefficient_paths(&lambdas, &coefs, &["a".into(), "b".into()]).unwrap()), SIZE);
    }
}
