use crate::time::StreamEvent;
use crate::Data;

/// Receives the records a user function emits.
pub trait Collector<T> {
    /// Emits one record.
    fn collect(&mut self, record: T);
}

/// Where an operator's records go: the next chained operator, an exchange writer, or several.
pub trait Output<T>: Collector<T> + Send {
    /// Sends partly filled batches downstream now (buffer timeout, idle input).
    fn flush(&mut self);
    /// Every input of the producer has ended: finish and pass the end on.
    fn end_input(&mut self);
    /// Passes a watermark or idleness on.
    fn emit_event(&mut self, event: StreamEvent);
    /// The task's clock advanced (processing-time timers, periodic watermarks).
    fn on_processing_time(&mut self, now_ms: i64);
}

/// A type-erased `Box<dyn Output<T>>`, as passed between the typed factories of a chain.
pub type ErasedOutput = Box<dyn std::any::Any + Send>;

/// Erases an output.
pub fn erase<T: 'static>(out: Box<dyn Output<T>>) -> ErasedOutput {
    Box::new(out)
}

/// Recovers a typed output; fails if the graph connects operators of different types.
pub fn unerase<T: 'static>(out: ErasedOutput) -> crate::Result<Box<dyn Output<T>>> {
    out.downcast::<Box<dyn Output<T>>>().map(|b| *b).map_err(|_| {
        crate::Error::Internal(format!(
            "output type mismatch: expected {}",
            std::any::type_name::<T>()
        ))
    })
}

/// Sends every record to several outputs (an operator feeding more than one consumer).
pub struct FanOut<T> {
    outputs: Vec<Box<dyn Output<T>>>,
}

impl<T: Data> Collector<T> for FanOut<T> {
    fn collect(&mut self, record: T) {
        if let Some((last, rest)) = self.outputs.split_last_mut() {
            for o in rest {
                o.collect(record.clone());
            }
            last.collect(record);
        }
    }
}

impl<T: Data> Output<T> for FanOut<T> {
    fn flush(&mut self) {
        self.outputs.iter_mut().for_each(|o| o.flush());
    }
    fn end_input(&mut self) {
        self.outputs.iter_mut().for_each(|o| o.end_input());
    }
    fn emit_event(&mut self, event: StreamEvent) {
        self.outputs.iter_mut().for_each(|o| o.emit_event(event));
    }
    fn on_processing_time(&mut self, now_ms: i64) {
        self.outputs.iter_mut().for_each(|o| o.on_processing_time(now_ms));
    }
}

/// Discards everything (the output of a sink).
pub struct Discard;

impl<T> Collector<T> for Discard {
    fn collect(&mut self, _: T) {}
}

impl<T> Output<T> for Discard {
    fn flush(&mut self) {}
    fn end_input(&mut self) {}
    fn emit_event(&mut self, _event: StreamEvent) {}
    fn on_processing_time(&mut self, _now_ms: i64) {}
}

/// Combines the outputs of an operator into one.
pub fn combine<T: Data>(mut outputs: Vec<Box<dyn Output<T>>>) -> Box<dyn Output<T>> {
    match outputs.len() {
        0 => Box::new(Discard),
        1 => outputs.remove(0),
        _ => Box::new(FanOut { outputs }),
    }
}

/// Collects into a vector (tests and buffering operators).
impl<T> Collector<T> for Vec<T> {
    fn collect(&mut self, record: T) {
        self.push(record);
    }
}
