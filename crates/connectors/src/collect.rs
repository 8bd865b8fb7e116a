use spate_runtime::sink::{Sink, SinkWriter};
use spate_runtime::{Result, TaskContext};
use std::sync::{Arc, Mutex};

/// Gives the program the records a job collected, after `execute()` returned.
pub struct CollectHandle<T> {
    shared: Arc<Mutex<Vec<T>>>,
}

impl<T> Clone for CollectHandle<T> {
    fn clone(&self) -> Self {
        CollectHandle {
            shared: self.shared.clone(),
        }
    }
}

impl<T> CollectHandle<T> {
    /// How many records were collected so far (and flushed by their writers).
    pub fn peek_len(&self) -> usize {
        self.shared.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Takes the records collected so far (in no particular order across subtasks).
    pub fn take(&self) -> Vec<T> {
        self.shared
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// Collects records into memory shared with the calling program.
pub struct CollectSink<T> {
    shared: Arc<Mutex<Vec<T>>>,
}

impl<T> CollectSink<T> {
    /// A sink and the handle that reads what it collected.
    pub fn new() -> (Self, CollectHandle<T>) {
        let shared = Arc::new(Mutex::new(Vec::new()));
        (
            CollectSink {
                shared: shared.clone(),
            },
            CollectHandle { shared },
        )
    }
}

impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    fn name(&self) -> String {
        "Collect".into()
    }
    fn embedded_only(&self) -> bool {
        true
    }
    fn initialize(&self, _parallelism: u32) -> Result<()> {
        if let Ok(mut v) = self.shared.lock() {
            v.clear();
        }
        Ok(())
    }
    fn create_writer(&self, _ctx: &TaskContext) -> Result<Box<dyn SinkWriter<T>>> {
        Ok(Box::new(CollectWriter {
            local: Vec::new(),
            shared: self.shared.clone(),
        }))
    }
}

struct CollectWriter<T> {
    local: Vec<T>,
    shared: Arc<Mutex<Vec<T>>>,
}

impl<T: Send> SinkWriter<T> for CollectWriter<T> {
    fn write(&mut self, record: T) -> Result<()> {
        self.local.push(record);
        if self.local.len() >= 4096 {
            self.flush()?;
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        if let Ok(mut v) = self.shared.lock() {
            v.append(&mut self.local);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}
