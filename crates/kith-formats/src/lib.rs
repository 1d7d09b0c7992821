//! kith-formats: reading and writing the file formats people move contacts
//! around in — CSV exports from other CRMs and spreadsheets, and vCard — so
//! the import and export jobs deal only in neutral records.
//!
//! Everything here is a pure transformation of bytes the caller hands over:
//! it reads only from the `Read`/`BufRead` it is given and writes only to the
//! `Write` it is given. It must never open files, touch the database, spawn
//! tasks, log, or decide what an import *does* with a record (matching,
//! deduplication, storing): that belongs to the jobs in kith-app.
//!
//! Modules:
//! - [`text`]: guess a file's encoding (UTF-8, UTF-16, Windows-1252) and hand
//!   back UTF-8, whole or streaming.
//! - [`csv_in`]: CSV rows with per-row errors, and rows to contacts.
//! - [`presets`]: which CRM a CSV came from and how its columns map to fields.
//! - [`vcard`]: vCard 2.1/3.0/4.0 cards to contacts.
//! - [`csv_out`], [`vcard_out`]: export, safe to open in a spreadsheet.
//! - [`contact`]: the neutral records and the per-record error type.
//! - [`zip_out`]: a streaming ZIP writer (stored entries) for full exports.
//! - [`document`], [`html_text`], [`chunk`], [`terms`]: the knowledge base's
//!   text extraction (TXT, Markdown, PDF, DOCX, HTML), chunking with overlap,
//!   and the words retrieval compares.

pub mod chunk;
pub mod contact;
pub mod csv_in;
pub mod csv_out;
pub mod document;
pub mod html_text;
pub mod presets;
pub mod terms;
pub mod text;
pub mod vcard;
pub mod vcard_out;
pub mod zip_out;

pub use contact::{Address, ExportContact, ImportedContact, RowError, RowErrorKind};
pub use presets::{Mapping, MappingError, Preset, Target};
