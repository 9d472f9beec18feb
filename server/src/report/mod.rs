//! The consultation report a clinician downloads after closing: who, when,
//! how long, with whom, the notes, and the chat with its files (images
//! drawn in). Gathered by the consultation service (which checks access and
//! writes the audit trail), written by [`pdf`].

pub mod pdf;

use pdf::Block;

/// Everything the report shows, already read and allowed.
pub struct ReportData {
    pub clinic: String,
    pub clinician: String,
    pub patient: String,
    pub status: String,
    pub scheduled: Option<String>,
    pub started: Option<String>,
    pub closed: Option<String>,
    pub duration: Option<String>,
    /// `name (role)`.
    pub participants: Vec<String>,
    pub notes: String,
    pub chat: Vec<ReportLine>,
}

pub struct ReportLine {
    pub at: String,
    pub author: String,
    pub body: String,
    pub attachment_name: Option<String>,
    /// Bytes of an image attachment, drawn under the line.
    pub image: Option<Vec<u8>>,
}

impl ReportData {
    pub fn blocks(&self) -> Vec<Block> {
        let mut blocks = vec![
            Block::Title(format!("Consultation report — {}", self.patient)),
            Block::Field("Clinic".into(), self.clinic.clone()),
            Block::Field("Clinician".into(), self.clinician.clone()),
            Block::Field("Patient".into(), self.patient.clone()),
            Block::Field("Status".into(), self.status.clone()),
        ];
        for (label, value) in [
            ("Scheduled for", &self.scheduled),
            ("Started", &self.started),
            ("Closed", &self.closed),
            ("Duration", &self.duration),
        ] {
            if let Some(value) = value {
                blocks.push(Block::Field(label.into(), value.clone()));
            }
        }
        blocks.push(Block::Heading("Participants".into()));
        for person in &self.participants {
            blocks.push(Block::Paragraph(format!("• {person}")));
        }
        blocks.push(Block::Heading("Notes".into()));
        blocks.push(Block::Paragraph(if self.notes.trim().is_empty() {
            "(no notes)".into()
        } else {
            self.notes.clone()
        }));
        blocks.push(Block::Heading("Chat".into()));
        if self.chat.is_empty() {
            blocks.push(Block::Paragraph("(no messages)".into()));
        }
        for line in &self.chat {
            let mut text = format!("[{}] {}: {}", line.at, line.author, line.body);
            if let Some(name) = &line.attachment_name {
                if !line.body.is_empty() {
                    text.push(' ');
                }
                text.push_str(&format!("[file: {name}]"));
            }
            blocks.push(Block::Paragraph(text));
            if let Some(image) = &line.image {
                blocks.push(Block::Image(image.clone()));
            }
        }
        blocks
    }

    /// The PDF, rendered off the async workers (it is CPU work).
    pub async fn to_pdf(self) -> Result<Vec<u8>, pdf::PdfError> {
        tokio::task::spawn_blocking(move || {
            let title = format!("Consultation report — {}", self.patient);
            pdf::render(&title, &self.blocks())
        })
        .await
        .map_err(|e| pdf::PdfError(e.to_string()))?
    }
}
