//! The BM25 side of retrieval: a `tantivy` index of the chunks (name and body), with an analyzer
//! for code — split on anything not alphanumeric (so `snake_case` is two words), camelCase
//! split as an extra value, lower-cased and stemmed (English).
//!
//! Each commit carries the state generation it matches as its payload, so a crash between the
//! tantivy commit and the state file is detected at the next open (and the index rebuilt).

use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, Occur, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, NumericOptions, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, TantivyDocument, Term};

use super::RetrievalError;
use super::chunk::Kind;
use super::index::Chunk;

/// The analyzer's registered name.
const ANALYZER: &str = "edgecoder_code";

/// Indexing memory of the writer (tantivy's per-thread minimum is 15 MB).
const WRITER_MEMORY: usize = 20_000_000;

fn err(e: impl std::fmt::Display) -> RetrievalError {
    RetrievalError::Bm25(e.to_string())
}

struct Fields {
    id: Field,
    path: Field,
    kind: Field,
    name: Field,
    body: Field,
}

/// The tantivy index of one workspace.
pub struct Bm25 {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl Bm25 {
    /// Opens the index in `dir`, creating it when absent.
    pub fn open(dir: &Path) -> Result<Self, RetrievalError> {
        std::fs::create_dir_all(dir).map_err(|source| RetrievalError::Io { context: format!("cannot create {}", dir.display()), source })?;
        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let fields = Fields {
            id: schema.add_u64_field("id", NumericOptions::default().set_stored().set_indexed()),
            path: schema.add_text_field("path", STRING),
            kind: schema.add_text_field("kind", STRING),
            name: schema.add_text_field("name", text.clone()),
            body: schema.add_text_field("body", text),
        };
        let directory = MmapDirectory::open(dir).map_err(err)?;
        let index = Index::open_or_create(directory, schema.build()).map_err(err)?;
        let analyzer = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(Stemmer::new(Language::English))
            .build();
        index.tokenizers().register(ANALYZER, analyzer);
        let reader = index.reader().map_err(err)?;
        Ok(Bm25 { index, reader, fields })
    }

    /// The state generation the last commit was made for (`None` for a new or foreign index).
    pub fn generation(&self) -> Result<Option<u64>, RetrievalError> {
        let metas = self.index.load_metas().map_err(err)?;
        Ok(metas.payload.and_then(|p| p.parse().ok()))
    }

    /// Applies one batch of changes and commits it as `generation`: the chunks of `removed_paths`
    /// go, `added` come in. With `reset`, everything is removed first.
    pub fn commit(&mut self, reset: bool, removed_paths: &[&str], added: &[&Chunk], generation: u64) -> Result<(), RetrievalError> {
        let mut writer: IndexWriter = self.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(err)?;
        if reset {
            writer.delete_all_documents().map_err(err)?;
        }
        for path in removed_paths {
            writer.delete_term(Term::from_field_text(self.fields.path, path));
        }
        for c in added {
            let mut doc = TantivyDocument::default();
            doc.add_u64(self.fields.id, c.id);
            doc.add_text(self.fields.path, &c.path);
            doc.add_text(self.fields.kind, c.kind.as_str());
            doc.add_text(self.fields.name, format!("{} {}", c.name, c.path));
            doc.add_text(self.fields.body, &c.text);
            let split = split_camel(&c.text);
            if split != c.text {
                doc.add_text(self.fields.body, split);
            }
            let split_name = split_camel(&c.name);
            if split_name != c.name {
                doc.add_text(self.fields.name, split_name);
            }
            writer.add_document(doc).map_err(err)?;
        }
        let mut prepared = writer.prepare_commit().map_err(err)?;
        prepared.set_payload(&generation.to_string());
        prepared.commit().map_err(err)?;
        writer.wait_merging_threads().map_err(err)?;
        self.reader.reload().map_err(err)?;
        Ok(())
    }

    /// The ids of the best `limit` chunks of `kind` (all kinds when `None`) for `query`, best
    /// first. Query syntax errors are forgiven (tantivy's lenient parser).
    pub fn search(&self, query: &str, kind: Option<Kind>, limit: usize) -> Result<Vec<(u64, f32)>, RetrievalError> {
        let mut parser = QueryParser::for_index(&self.index, vec![self.fields.name, self.fields.body]);
        parser.set_field_boost(self.fields.name, 2.0);
        let (parsed, _errors) = parser.parse_query_lenient(&split_camel(query));
        let q: Box<dyn tantivy::query::Query> = match kind {
            Some(k) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, parsed),
                (Occur::Must, Box::new(TermQuery::new(Term::from_field_text(self.fields.kind, k.as_str()), IndexRecordOption::Basic))),
            ])),
            None => parsed,
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score()).map_err(err)?;
        top.into_iter()
            .map(|(score, address)| {
                let doc: TantivyDocument = searcher.doc(address).map_err(err)?;
                let id = doc.get_first(self.fields.id).and_then(|v| v.as_u64()).ok_or_else(|| err("a document without an id"))?;
                Ok((id, score))
            })
            .collect()
    }
}

/// Inserts a space at every lower-to-upper case change (`parseHttpHeader` → `parse Http Header`),
/// so camelCase names match their words.
fn split_camel(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if c.is_uppercase() && prev.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_is_split() {
        assert_eq!(split_camel("parseHttpHeader(x)"), "parse Http Header(x)");
        assert_eq!(split_camel("snake_case ABC"), "snake_case ABC");
    }
}
