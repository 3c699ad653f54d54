//! Chat prompts rendered with the model's own Jinja chat template (`tokenizer.chat_template`).
//!
//! The template from the GGUF metadata runs in `minijinja`, set up the way Hugging Face
//! `transformers` runs chat templates (which is what template authors test against):
//! `trim_blocks` and `lstrip_blocks` on, `{% break %}`/`{% continue %}` available, the
//! variables `messages`, `add_generation_prompt`, `bos_token`, `eos_token` and (when given)
//! `tools`, the function `raise_exception(message)`, a `tojson` filter that writes JSON the way
//! Python's `json.dumps` does, and Python string/dict/list methods (`.strip()`, `.items()`, ...).
//!
//! ```no_run
//! use edgecoder_model::chat::{ChatMessage, ChatOptions, ChatTemplate};
//! use edgecoder_model::gguf::GgufFile;
//! use edgecoder_model::tokenizer::Tokenizer;
//!
//! let file = GgufFile::open("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")?;
//! let tokenizer = Tokenizer::from_gguf(&file)?;
//! let template = ChatTemplate::from_gguf(&file, &tokenizer)?;
//! let prompt = template.render(&[ChatMessage::user("Write is_palindrome in Python.")], &ChatOptions::default())?;
//! assert!(prompt.ends_with("<|im_start|>assistant\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod json;

use minijinja::value::{Kwargs, Serde};
use minijinja::{Environment, ErrorKind, Value};
use serde::Serialize;

use crate::gguf::{GgufError, GgufFile};
use crate::tokenizer::Tokenizer;

/// The metadata key that holds the template.
pub const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";

/// Name under which the template is stored in the environment.
const TEMPLATE_NAME: &str = "chat_template";

/// Why a chat prompt could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ChatTemplateError {
    /// The model ships no chat template (e.g. a base model such as Gemma 3 270M): the caller
    /// should fall back to a plain prompt.
    #[error("the model has no chat template ({CHAT_TEMPLATE_KEY}); use a plain prompt instead")]
    Missing,
    /// The template metadata could not be read.
    #[error("cannot read the chat template: {0}")]
    Gguf(#[from] GgufError),
    /// The template is not valid Jinja.
    #[error("the chat template does not compile: {0:#}")]
    Syntax(#[source] minijinja::Error),
    /// The template called `raise_exception(message)`, i.e. it rejects these messages (for
    /// example roles that do not alternate).
    #[error("the chat template rejected the conversation: {0}")]
    Raised(String),
    /// Rendering failed for another reason (an unknown filter, a type error, ...).
    #[error("the chat template failed to render: {0:#}")]
    Render(#[source] minijinja::Error),
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the assistant.
    System,
    /// The person asking.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// A tool call made by the assistant, in the OpenAI / Hugging Face shape
/// (`{"type": "function", "function": {"name": ..., "arguments": {...}}}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolCall {
    /// Always `"function"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function called.
    pub function: FunctionCall,
}

/// The function part of a [`ToolCall`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionCall {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON object (key order is kept).
    pub arguments: serde_json::Value,
}

impl ToolCall {
    /// A call of function `name` with `arguments`.
    pub fn function(name: impl Into<String>, arguments: serde_json::Value) -> Self {
        ToolCall {
            kind: "function",
            function: FunctionCall {
                name: name.into(),
                arguments,
            },
        }
    }
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
    /// Tool calls the assistant made in this message (absent from the template when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl ChatMessage {
    /// A message with `role` and `content` and no tool calls.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool result.
    pub fn tool(content: impl Into<String>) -> Self {
        Self::new(Role::Tool, content)
    }
}

/// Options of one rendering.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatOptions {
    /// End the prompt with the header of an assistant turn, so the model writes the answer
    /// (default true).
    pub add_generation_prompt: bool,
    /// Tool definitions (JSON schemas in the OpenAI shape) offered to the model; when empty,
    /// `tools` is left undefined in the template.
    pub tools: Vec<serde_json::Value>,
}

impl Default for ChatOptions {
    fn default() -> Self {
        ChatOptions {
            add_generation_prompt: true,
            tools: Vec::new(),
        }
    }
}

/// The error `raise_exception` produces, recognised again after rendering.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RaisedException(String);

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token` and `eos_token` are the texts the template sees.
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self, ChatTemplateError> {
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(ChatTemplateError::Syntax)?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<Value, minijinja::Error> {
                Err(
                    minijinja::Error::new(ErrorKind::InvalidOperation, message.clone())
                        .with_source(RaisedException(message)),
                )
            },
        );
        env.add_filter(
            "tojson",
            |value: Value, kwargs: Kwargs| -> Result<Value, minijinja::Error> {
                let indent: Option<usize> = kwargs.get("indent")?;
                let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
                kwargs.assert_all_used()?;
                Ok(Value::from_safe_string(json::python_dumps(
                    &value,
                    indent,
                    sort_keys.unwrap_or(false),
                )?))
            },
        );
        env.add_template_owned(TEMPLATE_NAME, source.into())
            .map_err(ChatTemplateError::Syntax)?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        })
    }

    /// The template a GGUF file ships, with the BOS/EOS texts of its tokenizer;
    /// [`ChatTemplateError::Missing`] when the file has none.
    pub fn from_gguf(file: &GgufFile, tokenizer: &Tokenizer) -> Result<Self, ChatTemplateError> {
        if file.get(CHAT_TEMPLATE_KEY).is_none() {
            return Err(ChatTemplateError::Missing);
        }
        let source = file.get_str(CHAT_TEMPLATE_KEY)?;
        let text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token_text(id))
                .unwrap_or("")
                .to_string()
        };
        Self::new(source, text(tokenizer.bos_id()), text(tokenizer.eos_id()))
    }

    /// Renders `messages` into the prompt text (tokenize it with `parse_special` on, so the
    /// template's control tokens become single tokens).
    pub fn render(
        &self,
        messages: &[ChatMessage],
        options: &ChatOptions,
    ) -> Result<String, ChatTemplateError> {
        let _span =
            tracing::debug_span!("render_chat_template", messages = messages.len()).entered();
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(ChatTemplateError::Render)?;
        let mut context = vec![
            ("messages", Value::from(Serde(messages))),
            (
                "add_generation_prompt",
                Value::from(options.add_generation_prompt),
            ),
            ("bos_token", Value::from(self.bos_token.as_str())),
            ("eos_token", Value::from(self.eos_token.as_str())),
        ];
        if !options.tools.is_empty() {
            context.push(("tools", Value::from(Serde(&options.tools))));
        }
        template.render(Value::from_pairs(context)).map_err(|e| {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(err) = source {
                if let Some(raised) = err.downcast_ref::<RaisedException>() {
                    return ChatTemplateError::Raised(raised.0.clone());
                }
                source = err.source();
            }
            ChatTemplateError::Render(e)
        })
    }
}
