//! Loss curves as a PNG: the training loss per epoch, and the validation loss when there is one.
//! Text uses the embedded DejaVu Sans, so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::Result;
use crate::output::replace_with;

fn register_font() {
    static FONT: Once = Once::new();
    FONT.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font is valid"));
    });
}

fn draw(path: &Path, losses: &[f64], validation: &[f64]) -> std::result::Result<(), String> {
    register_font();
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let top = losses.iter().chain(validation).copied().fold(0.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption("loss per epoch", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(1..losses.len().max(2), 0.0..top.max(f64::MIN_POSITIVE))
        .map_err(|e| e.to_string())?;
    chart.configure_mesh().x_desc("epoch").y_desc("loss").draw().map_err(|e| e.to_string())?;
    for (values, color, label) in [(losses, BLUE, "training objective"), (validation, RED, "validation loss")] {
        if values.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(values.iter().enumerate().map(|(i, &v)| (i + 1, v)), color.stroke_width(2)))
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

/// Draws the curves to `path` (PNG) through a temporary file in the same directory and a rename.
pub fn loss_curves(path: &Path, losses: &[f64], validation: &[f64]) -> Result<()> {
    // The encoder picks the format from the extension, so the temporary name ends in .png.
    replace_with(path, ".png", |tmp| draw(tmp.path(), losses, validation).map_err(std::io::Error::other))
}

/// Draws each coefficient against log₁₀ λ (a regularization path) to `path` (PNG).
pub fn coefficient_paths(path: &Path, lambdas: &[f64], coefs: &[Vec<f64>]) -> Result<()> {
    replace_with(path, ".png", |tmp| draw_paths(tmp.path(), lambdas, coefs).map_err(std::io::Error::other))
}

fn draw_paths(path: &Path, lambdas: &[f64], coefs: &[Vec<f64>]) -> std::result::Result<(), String> {
    register_font();
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
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
    for j in 0..features {
        let color = Palette99::pick(j).stroke_width(2);
        chart
            .draw_series(LineSeries::new(xs.iter().zip(coefs).map(|(&x, c)| (x, c[j])), color))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_with_both_curves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let losses: Vec<f64> = (0..50).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let validation: Vec<f64> = losses.iter().map(|l| l * 1.2).collect();
        loss_curves(&path, &losses, &validation).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5_000, "{} bytes", bytes.len());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = loss_curves(&dir.path().join("no/such/loss.png"), &losses, &[]).unwrap_err().to_string();
        assert!(e.contains("no/such/loss.png"), "{e}");
    }

    #[test]
    fn draws_coefficient_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("path.png");
        let lambdas = [1.0, 0.1, 0.01];
        let coefs = vec![vec![0.0, 0.0], vec![0.5, 0.0], vec![1.0, -0.3]];
        coefficient_paths(&path, &lambdas, &coefs).unwrap();
        assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
