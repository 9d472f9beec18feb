//! Lays a report out on A4 pages and writes the PDF with krilla: DejaVu
//! Sans (embedded, subsetted) so any Latin or Cyrillic name renders, text
//! wrapped by measured width, images scaled to the page. Pages are laid out
//! first and drawn after, because krilla holds one page open at a time.

use krilla::Document;
use krilla::geom::{Point, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY: f32 = 10.5;

/// One block of the report, in reading order.
pub enum Block {
    Title(String),
    Heading(String),
    /// `label: value` on one (wrapped) line.
    Field(String, String),
    Paragraph(String),
    /// Raw PNG/JPEG/GIF/WebP bytes; drawn scaled to fit.
    Image(Vec<u8>),
    Gap,
}

#[derive(Debug, thiserror::Error)]
#[error("the report could not be written: {0}")]
pub struct PdfError(pub String);

enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        text: String,
    },
    Picture {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        image: Image,
    },
}

struct Measure {
    face: rustybuzz::Face<'static>,
    units_per_em: f32,
}

impl Measure {
    fn width(&self, text: &str, size: f32) -> f32 {
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        let shaped = rustybuzz::shape(&self.face, &[], buffer);
        let units: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / self.units_per_em
    }
}

struct Layout {
    pages: Vec<Vec<Op>>,
    /// Top of the next line on the current page.
    y: f32,
}

impl Layout {
    fn make_room(&mut self, height: f32) {
        if self.y + height > PAGE_H - MARGIN - 20.0 {
            self.pages.push(Vec::new());
            self.y = MARGIN;
        }
    }

    fn push(&mut self, op: Op) {
        if let Some(page) = self.pages.last_mut() {
            page.push(op);
        }
    }

    fn line(&mut self, text: String, size: f32, bold: bool) {
        let height = size * 1.4;
        self.make_room(height);
        if !text.is_empty() {
            let y = self.y + size;
            self.push(Op::Text {
                x: MARGIN,
                y,
                size,
                bold,
                text,
            });
        }
        self.y += height;
    }
}

/// Control characters would draw as boxes; tabs become spaces.
fn printable(text: &str) -> String {
    text.replace('\t', "    ")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}

/// Splits text into lines no wider than `max`, breaking inside words only
/// when one word alone is too wide (a long link).
fn wrap(measure: &Measure, text: &str, size: f32, max: f32) -> Vec<String> {
    let space = measure.width(" ", size);
    let mut lines = Vec::new();
    for paragraph in printable(text).split('\n') {
        let mut line = String::new();
        let mut width = 0.0f32;
        for word in paragraph.split_whitespace() {
            let word_width = measure.width(word, size);
            if word_width > max {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    width = 0.0;
                }
                for ch in word.chars() {
                    let ch_width = measure.width(ch.encode_utf8(&mut [0; 4]), size);
                    if width + ch_width > max && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        width = 0.0;
                    }
                    line.push(ch);
                    width += ch_width;
                }
                continue;
            }
            let added = if line.is_empty() {
                word_width
            } else {
                space + word_width
            };
            if width + added > max && !line.is_empty() {
                lines.push(std::mem::replace(&mut line, word.to_string()));
                width = word_width;
            } else {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
                width += added;
            }
        }
        lines.push(line);
    }
    lines
}

fn load_image(bytes: &[u8]) -> Option<Image> {
    let data = krilla::Data::from(bytes.to_vec());
    match crate::files::sniff(bytes)? {
        crate::files::FileKind::Png => Image::from_png(data, true).ok(),
        crate::files::FileKind::Jpeg => Image::from_jpeg(data, true).ok(),
        crate::files::FileKind::Gif => Image::from_gif(data, true).ok(),
        crate::files::FileKind::Webp => Image::from_webp(data, true).ok(),
        crate::files::FileKind::Pdf => None,
    }
}

/// Writes the blocks as a PDF. An image whose body turns out corrupt
/// (krilla decodes lazily) makes us write the report again without images
/// rather than fail.
pub fn render(title: &str, blocks: &[Block]) -> Result<Vec<u8>, PdfError> {
    match render_with(title, blocks, true) {
        Ok(bytes) => Ok(bytes),
        Err(_) => render_with(title, blocks, false),
    }
    .map_err(PdfError)
}

fn render_with(title: &str, blocks: &[Block], with_images: bool) -> Result<Vec<u8>, String> {
    let fonts = (
        Font::new(krilla::Data::from(dejavu::sans::regular()), 0),
        Font::new(krilla::Data::from(dejavu::sans::bold()), 0),
        rustybuzz::Face::from_slice(dejavu::sans::regular(), 0),
    );
    let (Some(regular), Some(bold), Some(face)) = fonts else {
        return Err("the bundled font could not be read".into());
    };
    let measure = Measure {
        units_per_em: face.units_per_em() as f32,
        face,
    };
    let mut layout = Layout {
        pages: vec![Vec::new()],
        y: MARGIN,
    };
    for block in blocks {
        match block {
            Block::Title(text) => {
                for line in wrap(&measure, text, 18.0, CONTENT_W * 0.9) {
                    layout.line(line, 18.0, true);
                }
                layout.y += 6.0;
            }
            Block::Heading(text) => {
                layout.y += 8.0;
                layout.make_room(40.0);
                for line in wrap(&measure, text, 13.0, CONTENT_W * 0.92) {
                    layout.line(line, 13.0, true);
                }
            }
            Block::Field(label, value) => {
                for line in wrap(&measure, &format!("{label}: {value}"), BODY, CONTENT_W) {
                    layout.line(line, BODY, false);
                }
            }
            Block::Paragraph(text) => {
                for line in wrap(&measure, text, BODY, CONTENT_W) {
                    layout.line(line, BODY, false);
                }
            }
            Block::Gap => layout.y += BODY,
            Block::Image(bytes) => {
                let Some(image) = with_images.then(|| load_image(bytes)).flatten() else {
                    continue;
                };
                let (pixels_w, pixels_h) = image.size();
                // 96 dpi to points, never wider than the text, never taller than a page.
                let mut w = (pixels_w as f32 * 0.75).min(CONTENT_W).min(300.0);
                let mut h = w * pixels_h as f32 / pixels_w.max(1) as f32;
                let max_h = (PAGE_H - 2.0 * MARGIN - 20.0).min(360.0);
                if h > max_h {
                    w *= max_h / h;
                    h = max_h;
                }
                layout.make_room(h + 6.0);
                let y = layout.y;
                layout.push(Op::Picture {
                    x: MARGIN,
                    y,
                    w,
                    h,
                    image,
                });
                layout.y += h + 6.0;
            }
        }
    }

    let mut document = Document::new();
    document.set_metadata(Metadata::new().title(title.to_string()));
    let count = layout.pages.len();
    for (index, ops) in layout.pages.into_iter().enumerate() {
        let Some(settings) = PageSettings::from_wh(PAGE_W, PAGE_H) else {
            continue;
        };
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold: is_bold,
                    text,
                } => surface.draw_text(
                    Point::from_xy(x, y),
                    if is_bold {
                        bold.clone()
                    } else {
                        regular.clone()
                    },
                    size,
                    &text,
                    false,
                    TextDirection::Auto,
                ),
                Op::Picture { x, y, w, h, image } => {
                    surface.push_transform(&Transform::from_translate(x, y));
                    if let Some(size) = Size::from_wh(w, h) {
                        surface.draw_image(image, size);
                    }
                    surface.pop();
                }
            }
        }
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - MARGIN / 2.0),
            regular.clone(),
            8.0,
            &format!("{title} — {} / {count}", index + 1),
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_within_the_width_and_flows_onto_new_pages() {
        let face = rustybuzz::Face::from_slice(dejavu::sans::regular(), 0).unwrap();
        let measure = Measure {
            units_per_em: face.units_per_em() as f32,
            face,
        };
        let text = "Пациентка Зоя жалуется на головную боль. ".repeat(20)
            + "https://example.org/a/very/long/link/that/has/no/spaces/at/all/and/keeps/going/on/and/on";
        let lines = wrap(&measure, &text, BODY, CONTENT_W);
        assert!(lines.len() > 5);
        for line in &lines {
            assert!(measure.width(line, BODY) <= CONTENT_W + 0.01, "{line}");
        }
        let many: Vec<Block> = (0..400)
            .map(|i| Block::Paragraph(format!("Line {i} — Zoë Ñúñez")))
            .collect();
        let pdf = render("Report", &many).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
