//! The distillation pipeline's model side on real weights: SmolLM2-135M is the teacher (its
//! top-k logits on real code), a tiny student learns from them, a stopped run resumes to the
//! same losses as an uninterrupted one, and the exports load — the GGUF in the engine with the
//! student's own logits, the safetensors with the Hugging Face names.

#![cfg(feature = "train")]

mod common;

use std::ops::ControlFlow;

use burn::tensor::{Device, Int, Tensor, TensorData};
use edgecoder_model::distill::export::{ExportFormat, export_gguf, export_safetensors};
use edgecoder_model::distill::train::{load_checkpoint, read_log, train};
use edgecoder_model::distill::{DistillConfig, DistillSample, TeacherTopK};
use edgecoder_model::engine::{Backend, Model, Prompt};
use edgecoder_model::gguf::GgufFile;

const SNIPPETS: &[&str] = &[
    "def add(a, b):\n    return a + b\n",
    "def is_even(n):\n    return n % 2 == 0\n",
    "def reverse(s):\n    return s[::-1]\n",
    "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
];

fn config(steps: usize, every: usize) -> DistillConfig {
    DistillConfig::parse(&format!(
        "[student]\nbase = \"smollm2-135m\"\nlayers = 2\nhidden = 64\nheads = 4\nkv_heads = 2\nffn = 128\ncontext = 256\n\
         [train]\nsteps = {steps}\nbatch_size = 2\nlearning_rate = 1e-2\nwarmup_steps = 2\ntemperature = 1.0\nmax_seq = 128\ncheckpoint_every = {every}\n"
    ))
    .unwrap()
}

fn samples(teacher: &Model) -> Vec<DistillSample> {
    SNIPPETS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let tokens = teacher.tokenize(&Prompt::Text((*text).to_owned())).unwrap();
            let response_start = 4;
            let top_k = teacher
                .top_logits(&tokens, response_start, 8)
                .unwrap()
                .into_iter()
                .map(|(ids, logits)| TeacherTopK { ids, logits })
                .collect();
            let sample = DistillSample {
                task_id: format!("snippet/{i}"),
                lang: "python".into(),
                teacher: "smollm2-135m".into(),
                sample: 0,
                prompt: String::new(),
                response: (*text).to_owned(),
                tokens,
                response_start,
                top_k,
            };
            sample.validate(teacher.config().vocab_size).unwrap();
            sample
        })
        .collect()
}

#[test]
fn the_teachers_top_logits_are_its_most_likely_tokens_in_order() {
    let teacher = Model::load(common::smollm2(), Backend::Flex).unwrap();
    let tokens = teacher.tokenize(&Prompt::Text(SNIPPETS[0].to_owned())).unwrap();
    let top = teacher.top_logits(&tokens, 1, 5).unwrap();
    assert_eq!(top.len(), tokens.len() - 1);
    let last = teacher.logits(&tokens[..tokens.len() - 1]).unwrap();
    let (ids, logits) = top.last().unwrap();
    let best = (0..last.len()).max_by(|&a, &b| last[a].total_cmp(&last[b])).unwrap();
    assert_eq!(ids[0] as usize, best);
    assert!(logits.windows(2).all(|w| w[0] >= w[1]), "{logits:?}");
    assert!((logits[0] - last[best]).abs() < 1e-3);
}

#[test]
fn a_tiny_student_learns_resumes_and_exports_to_files_the_engine_loads() {
    let teacher = Model::load(common::smollm2(), Backend::Flex).unwrap();
    let vocab = teacher.config().vocab_size;
    let data = samples(&teacher);
    let device = Device::flex().autodiff();
    let dir = tempfile::tempdir().unwrap();

    // Uninterrupted: the loss falls.
    let full = dir.path().join("full");
    let cfg = config(24, 8);
    let summary = train(&cfg, None, vocab, &data, &full, false, &device, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(summary.steps.len(), 24);
    let first: f32 = summary.steps[..3].iter().map(|s| s.loss).sum::<f32>() / 3.0;
    let last: f32 = summary.steps[21..].iter().map(|s| s.loss).sum::<f32>() / 3.0;
    assert!(last < 0.6 * first, "loss {first} -> {last}");
    assert!(summary.steps.iter().all(|s| s.kd >= -1e-3 && s.ce > 0.0), "{:?}", summary.steps);
    assert_eq!(read_log(&full.join("loss.csv")).unwrap().len(), 24);

    // Stopped after 10 steps, then resumed: the same losses as the uninterrupted run.
    let split = dir.path().join("split");
    let stopped = train(&cfg, None, vocab, &data, &split, false, &device, &mut |s| {
        if s.step == 10 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .unwrap();
    assert!(stopped.stopped && stopped.steps.len() == 10);
    let resumed = train(&cfg, None, vocab, &data, &split, true, &device, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(resumed.resumed_from, 10);
    assert_eq!(resumed.steps.len(), 24);
    for (a, b) in summary.steps.iter().zip(&resumed.steps) {
        assert!((a.loss - b.loss).abs() <= 1e-4 * a.loss.abs().max(1.0), "step {}: {} vs {}", a.step, a.loss, b.loss);
    }
    // Another configuration does not resume silently.
    let err = train(&config(30, 8), None, vocab, &data, &split, true, &device, &mut |_| ControlFlow::Continue(()))
        .err()
        .expect("another config must not resume");
    assert!(err.to_string().contains("another configuration"), "{err}");

    // Export: the engine loads the GGUF and computes the student's logits.
    let checkpoint = load_checkpoint(&full.join("checkpoint"), &Device::flex()).unwrap();
    assert_eq!(checkpoint.step, 24);
    let base = GgufFile::open(common::smollm2()).unwrap();
    let probe = &data[3].tokens;
    let seq = probe.len();
    let ids: Vec<i64> = probe.iter().map(|&t| i64::from(t)).collect();
    let want = checkpoint
        .student
        .forward(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, seq]), &Device::flex()))
        .narrow(1, seq - 1, 1)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (format, tolerance) in [(ExportFormat::GgufF16, 0.02), (ExportFormat::GgufQ8_0, 0.1), (ExportFormat::GgufQ4_0, 0.5)] {
        let path = dir.path().join(format!("student-{}.gguf", format.name()));
        export_gguf(&checkpoint.student, &checkpoint.config.student, &base, format, "student", &path).unwrap();
        let exported = Model::load(&path, Backend::Flex).unwrap();
        assert_eq!(exported.config().n_layers, 2);
        assert_eq!(exported.tokenize(&Prompt::Text(SNIPPETS[3].to_owned())).unwrap(), *probe);
        let got = exported.logits(probe).unwrap();
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let argmax = |v: &[f32]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        assert!(worst < tolerance, "{}: logits differ by {worst}", format.name());
        if format == ExportFormat::GgufF16 {
            assert_eq!(argmax(&got), argmax(&want));
        }
    }

    // safetensors: Hugging Face names, shapes [out, in], the student's values.
    let st = dir.path().join("st");
    export_safetensors(&checkpoint.student, &checkpoint.config.student, &st).unwrap();
    let bytes = std::fs::read(st.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let q = file.tensor("model.layers.1.self_attn.k_proj.weight").unwrap();
    assert_eq!(q.shape(), [32, 64]);
    assert_eq!(file.tensor("model.embed_tokens.weight").unwrap().shape(), [vocab, 64]);
    assert_eq!(file.names().len(), 2 * 12 + 2);
    let trained = checkpoint.student.blocks[1].k.weight.val().transpose().into_data().try_to_vec::<f32>().unwrap();
    let stored: Vec<f32> = q.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(stored, trained);
    let hf: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(st.join("config.json")).unwrap()).unwrap();
    assert_eq!(hf["num_key_value_heads"], 2);
    assert_eq!(hf["vocab_size"], vocab);
}
