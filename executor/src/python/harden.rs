//! The run-time wall behind the static subset check: what user code cannot reach even when it
//! builds attribute names at run time (`type.__dict__['__sub' + 'classes__']`, `vars(...)`,
//! `object.__getattribute__`, `str.format` fields, `operator.attrgetter`, `copy`'s reduce
//! protocol...).
//!
//! Two layers:
//! 1. **Guarded introspection.** The descriptors that reach interpreter internals (a function's
//!    `__globals__`/`__code__`/`__closure__`/`__builtins__`, frames and their `f_back`/
//!    `f_globals`/..., generators' and coroutines' frames and code, tracebacks' frames, a built-in
//!    function's `__self__`, `type.__subclasses__`, `sys._getframe`) are replaced in the built-in
//!    types themselves by guarded versions. The guard refuses (`PermissionError`,
//!    `PY_INTROSPECTION`) when the code asking is user code, or a standard-library function that
//!    merely calls what the user hands it ([`TRAMPOLINES`]). The check is on the descriptor, so
//!    every path to it (attribute syntax, `getattr`, the type's `__dict__`, `__get__`,
//!    `__getattribute__`, native helpers) meets it. The standard library's own use (namedtuple,
//!    enum and typing read their caller's frame; `abc` lists the subclasses of abstract classes)
//!    keeps working.
//! 2. **No dangerous capability to reach.** Whatever user code might still get hold of is
//!    disarmed: the real `sys` loses its tracing and frame functions; `time.sleep` (a native call
//!    the wall clock cannot interrupt), `marshal.load(s)` and `_imp._fix_co_filename` are taken
//!    out of their modules' definitions; code objects can be neither built nor `replace()`d
//!    (arbitrary bytecode); the `gc` module does not exist; `atexit` callbacks never run at
//!    teardown. No module
//!    with host access (files, sockets, processes, signals, threads, ctypes) is compiled in at all.
//!
//! User code is recognised by the file name of its code object: only the executor compiles code
//! under [`USER_FILES`] (the program, the solution and tests, and whatever they `eval`/`exec`),
//! and user code cannot forge a code object under another name (layer 2).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use rustpython_vm::builtins::{PyModule, PyModuleDef, PyModuleSlots, PyTypeRef};
use rustpython_vm::function::{FuncArgs, PyMethodDef};
use rustpython_vm::{AsObject, Py, PyObjectRef, PyResult, VirtualMachine, builtins::PyType};

/// The file names the executor compiles user code under (the program, a solution, its tests,
/// and code given to `eval`/`exec`/`compile`).
pub(crate) const USER_FILES: [&str; 4] = ["<main>", "<solution>", "<tests>", "<string>"];

/// Standard-library modules whose functions call what the caller gives them (`copy`'s reduce
/// protocol, `functools` wrappers, `string.Formatter` fields, `contextlib` callbacks, `weakref`
/// finalizers): their frames ask on the user's behalf, so they are held to the user's rules.
const TRAMPOLINES: &[&str] = &["copy", "copyreg", "string", "functools", "contextlib", "operator", "weakref"];

/// Built-in modules that are removed from the interpreter: `gc` hands out every object
/// (`get_objects`, `get_referrers`).
const REMOVED_MODULES: &[&str] = &["gc"];

/// Functions removed from built-in modules the standard library needs: `marshal.load(s)`
/// build code objects from bytes, `time.sleep` is a native call the wall clock cannot
/// interrupt, `_imp._fix_co_filename` relabels a code object's file.
const REMOVED_FUNCTIONS: &[(&str, &[&str])] = &[
    ("marshal", &["load", "loads"]),
    ("time", &["sleep"]),
    ("_imp", &["_fix_co_filename"]),
];

/// Attributes of the real `sys` module that are deleted: tracing and profiling hooks (they are
/// handed every frame), frame tables, audit hooks and interpreter tuning knobs.
const REMOVED_SYS_ATTRS: &[&str] = &[
    "settrace", "gettrace", "setprofile", "getprofile", "_settraceallthreads", "_setprofileallthreads",
    "_current_frames", "_current_exceptions", "_getframemodulename", "call_tracing", "monitoring",
    "addaudithook", "audit", "setswitchinterval", "activate_stack_trampoline",
    "deactivate_stack_trampoline", "_clear_type_cache", "_clear_internal_caches", "breakpointhook",
    "__breakpointhook__", "set_asyncgen_hooks", "set_coroutine_origin_tracking_depth",
    "_debugmallocstats", "setdlopenflags",
];

/// The guarded descriptors: (type, attribute).
fn guarded_descriptors(vm: &VirtualMachine) -> Vec<(&'static Py<PyType>, &'static str)> {
    let t = &vm.ctx.types;
    let mut list = Vec::new();
    for attr in ["__globals__", "__code__", "__closure__", "__builtins__"] {
        list.push((t.function_type, attr));
    }
    for attr in ["f_back", "f_globals", "f_locals", "f_builtins", "f_code", "f_trace"] {
        list.push((t.frame_type, attr));
    }
    for attr in ["gi_frame", "gi_code"] {
        list.push((t.generator_type, attr));
    }
    for attr in ["cr_frame", "cr_code"] {
        list.push((t.coroutine_type, attr));
    }
    for attr in ["ag_frame", "ag_code"] {
        list.push((t.async_generator, attr));
    }
    list.push((t.traceback_type, "tb_frame"));
    list.push((t.builtin_function_or_method_type, "__self__"));
    list.push((t.builtin_method_type, "__self__"));
    list
}

thread_local! {
    /// Whether this thread's built-in types (shared by every interpreter the thread builds) have
    /// their guarded descriptors already.
    static TYPES_GUARDED: Cell<bool> = const { Cell::new(false) };
    /// The original descriptors and functions behind the guarded ones, by `type.attribute`.
    static ORIGINALS: RefCell<HashMap<&'static str, PyObjectRef>> = RefCell::new(HashMap::new());
    /// The module definitions without [`REMOVED_FUNCTIONS`], made once per thread (a module
    /// definition belongs to the thread's base context and lives as long as the thread).
    static STRIPPED: RefCell<HashMap<&'static str, &'static PyModuleDef>> = RefCell::new(HashMap::new());
}

/// `def` without the functions named in `names`.
fn stripped(module: &'static str, def: &'static PyModuleDef, names: &[&str]) -> &'static PyModuleDef {
    STRIPPED.with(|cache| {
        *cache.borrow_mut().entry(module).or_insert_with(|| {
            let methods: Vec<PyMethodDef> =
                def.methods.iter().filter(|m| !names.contains(&m.name)).cloned().collect();
            Box::leak(Box::new(PyModuleDef {
                name: def.name,
                doc: def.doc,
                methods: Box::leak(methods.into_boxed_slice()),
                slots: PyModuleSlots { create: def.slots.create, exec: def.slots.exec },
            }))
        })
    })
}

fn original(vm: &VirtualMachine, key: &'static str) -> PyResult {
    ORIGINALS
        .with(|o| o.borrow().get(key).cloned())
        .ok_or_else(|| vm.new_runtime_error(format!("edgecoder: the original {key} is gone")))
}

/// The file name of the code running in the innermost Python frame, if any.
fn innermost_file(vm: &VirtualMachine) -> Option<(&'static str, bool)> {
    vm.current_frame().map(|f| (f.code.source_path().as_str(), f.code.obj_name.as_str() == "<module>"))
}

/// The module a standard-library code file belongs to: frozen modules are named by their
/// module name (`copy`), files by their path (`.../copy.py`).
fn module_of(file: &str) -> &str {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.strip_suffix(".py").unwrap_or(name)
}

/// Whether the innermost Python frame runs user code.
pub(crate) fn user_code_running(vm: &VirtualMachine) -> bool {
    innermost_file(vm).is_some_and(|(file, _)| USER_FILES.contains(&file))
}

/// Whether the innermost Python frame runs user code, or a function of a standard-library
/// module that calls what it is handed ([`TRAMPOLINES`]).
pub(crate) fn asked_for_user(vm: &VirtualMachine) -> bool {
    innermost_file(vm).is_some_and(|(file, module_level)| {
        USER_FILES.contains(&file) || (!module_level && TRAMPOLINES.contains(&module_of(file)))
    })
}

/// The error every guard raises.
pub(crate) fn refused(vm: &VirtualMachine, what: &str) -> rustpython_vm::builtins::PyBaseExceptionRef {
    vm.new_os_subtype_error(
        vm.ctx.exceptions.permission_error.to_owned(),
        None,
        format!("{what} is not available in the on-device sandbox (PY_INTROSPECTION)"),
    )
    .upcast()
}

/// Removes [`REMOVED_MODULES`] from the interpreter's table of built-in modules and
/// [`REMOVED_FUNCTIONS`] from the definitions of the others, so that no way of creating a module
/// (import, a loader, `_imp.create_builtin`) brings them back. Call from the interpreter
/// builder's init hook, while the VM's global state is not shared yet.
pub(crate) fn prune_modules(vm: &mut VirtualMachine) {
    let Some(state) = rustpython_vm::common::rc::PyRc::get_mut(&mut vm.state) else {
        tracing::error!("cannot prune the built-in modules: the VM state is shared");
        return;
    };
    for name in REMOVED_MODULES {
        state.module_defs.remove(name);
    }
    for (module, names) in REMOVED_FUNCTIONS {
        if let Some(def) = state.module_defs.get(module).copied() {
            state.module_defs.insert(module, stripped(module, def, names));
        }
    }
}

/// Guards the descriptors of this thread's built-in types (once per thread: the types are
/// shared by every interpreter the thread builds).
pub(crate) fn install_types(vm: &VirtualMachine) {
    if TYPES_GUARDED.with(|done| done.replace(true)) {
        return;
    }
    for (ty, attr) in guarded_descriptors(vm) {
        let name = vm.ctx.intern_str(attr);
        let Some(descriptor) = ty.attributes.read().get(name).cloned() else {
            tracing::debug!(ty = ty.name().to_string(), attr, "no descriptor to guard");
            continue;
        };
        let key: &'static str = Box::leak(format!("{}.{attr}", ty.name()).into_boxed_str());
        ORIGINALS.with(|o| o.borrow_mut().insert(key, descriptor));
        let getter = move |obj: PyObjectRef, vm: &VirtualMachine| guarded_get(key, attr, obj, vm);
        let guarded = vm.ctx.new_readonly_getset(attr, ty, getter);
        ty.set_attr(name, guarded.into());
    }
    let type_type = vm.ctx.types.type_type;
    let subclasses = vm.ctx.intern_str("__subclasses__");
    if let Some(descriptor) = type_type.attributes.read().get(subclasses).cloned() {
        ORIGINALS.with(|o| o.borrow_mut().insert("type.__subclasses__", descriptor));
    }
    let guarded = vm.new_method("__subclasses__", type_type, guarded_subclasses);
    type_type.set_attr(subclasses, guarded.into());

    // Code objects: no forging (arbitrary bytecode, or user code relabelled as library code).
    let code_type = vm.ctx.types.code_type;
    for attr in ["replace", "__replace__"] {
        code_type.modified();
        code_type.attributes.write().shift_remove(vm.ctx.intern_str(attr));
    }
    code_type.slots.new.store(Some(refuse_code_new));
    let new_name = vm.ctx.intern_str("__new__");
    if code_type.attributes.read().contains_key(new_name) {
        let refusal = vm.new_function("__new__", |_: FuncArgs, vm: &VirtualMachine| -> PyResult {
            Err(refused(vm, "building a code object"))
        });
        code_type.set_attr(new_name, refusal.into());
    }
}

fn refuse_code_new(_cls: PyTypeRef, _args: FuncArgs, vm: &VirtualMachine) -> PyResult {
    Err(refused(vm, "building a code object"))
}

fn guarded_get(key: &'static str, attr: &'static str, obj: PyObjectRef, vm: &VirtualMachine) -> PyResult {
    if asked_for_user(vm) {
        return Err(refused(vm, &format!("attribute '{attr}'")));
    }
    let descriptor = original(vm, key)?;
    let cls: PyObjectRef = obj.class().to_owned().into();
    let value = vm
        .call_get_descriptor_specific(&descriptor, Some(obj), Some(cls))
        .unwrap_or_else(|| Ok(descriptor.clone()))?;
    // A built-in function's `__self__` is its module (e.g. `sys.exit.__self__` is the real
    // `sys`): nobody gets a module that way.
    if attr == "__self__" && value.downcast_ref::<PyModule>().is_some() {
        return Err(refused(vm, "the module behind a built-in function"));
    }
    Ok(value)
}

/// `type.__subclasses__`, refused to user code except on abstract classes (whose subclasses
/// `abc` and `functools.singledispatch` walk on the user's behalf, e.g. in `isinstance`).
fn guarded_subclasses(zelf: PyTypeRef, vm: &VirtualMachine) -> PyResult {
    let is_abc = zelf.attributes.read().contains_key(vm.ctx.intern_str("_abc_impl"));
    if asked_for_user(vm) && !is_abc {
        return Err(refused(vm, "type.__subclasses__()"));
    }
    original(vm, "type.__subclasses__")?.call((zelf,), vm)
}

/// Disarms the real `sys` module of a freshly built interpreter (each interpreter has its
/// own).
pub(crate) fn install_interpreter(vm: &VirtualMachine) -> PyResult<()> {
    let sys = vm.sys_module.as_object();
    let sys_dict = sys.dict().ok_or_else(|| vm.new_runtime_error("edgecoder: sys has no __dict__"))?;
    for attr in REMOVED_SYS_ATTRS {
        if sys_dict.contains_key(*attr, vm) {
            sys_dict.del_item(*attr, vm)?;
        }
    }
    if let Ok(getframe) = sys.get_attr("_getframe", vm) {
        ORIGINALS.with(|o| o.borrow_mut().insert("sys._getframe", getframe));
        let guarded = vm.new_function("_getframe", |args: FuncArgs, vm: &VirtualMachine| {
            if asked_for_user(vm) {
                return Err(refused(vm, "sys._getframe()"));
            }
            original(vm, "sys._getframe")?.call(args, vm)
        });
        sys.set_attr("_getframe", guarded, vm)?;
    }
    Ok(())
}

/// Drops what this module kept of the thread's current interpreter (the real `sys._getframe`,
/// which holds that interpreter's `sys`), before the interpreter is torn down.
pub(crate) fn forget_interpreter() {
    let kept = ORIGINALS.with(|o| o.borrow_mut().remove("sys._getframe"));
    drop(kept);
}

/// Drops the `atexit` callbacks a run registered, so none runs when its interpreter is torn
/// down (a native callback such as `time.sleep` could not be interrupted there).
pub(crate) fn forget_exit_callbacks(vm: &VirtualMachine) {
    vm.state.atexit_funcs.lock().clear();
}
