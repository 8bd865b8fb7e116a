use crate::stream::DataStream;
use spate_runtime::operator::SideOutputs;
use spate_runtime::Data;
use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;

type Taker =
    Arc<dyn Fn(&mut SideOutputs) -> spate_runtime::Result<(String, Box<dyn Any + Send>)> + Send + Sync>;

/// A side output an operator declared it may write to (see
/// [`KeyedStream::process_function_with_outputs`](crate::KeyedStream::process_function_with_outputs)).
#[derive(Clone)]
pub struct DeclaredOutput(pub(crate) Taker);

/// Names a side output of type `T` (Flink's `OutputTag`): an operator such as a window emits
/// records there in addition to its main output, e.g. late data.
pub struct OutputTag<T> {
    pub(crate) id: String,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        OutputTag {
            id: self.id.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> OutputTag<T> {
    /// A tag named `id` (unique per operator).
    pub fn new(id: &str) -> Self {
        OutputTag {
            id: id.to_string(),
            _t: PhantomData,
        }
    }

    /// The tag's name.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<T: Data> OutputTag<T> {
    /// Declares this side output for an operator that writes to it by tag.
    pub fn declare(&self) -> DeclaredOutput {
        let id = self.id.clone();
        DeclaredOutput(Arc::new(move |side: &mut SideOutputs| {
            let out = side.take::<T>(&id)?;
            Ok((id.clone(), Box::new(out) as Box<dyn Any + Send>))
        }))
    }
}

impl<O: Data> DataStream<O> {
    /// The records the operator producing this stream emitted to `tag`.
    pub fn get_side_output<T: Data>(&self, tag: &OutputTag<T>) -> DataStream<T> {
        let mut s = DataStream::<T>::new(self.env.clone(), self.id);
        s.side_tag = Some(tag.id.clone());
        s
    }
}
