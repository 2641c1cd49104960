//! The services' own Prometheus metrics, declared once.
//!
//! `vote`, `worker` and `result` each keep a few counters and gauges beside
//! the HTTP metrics service-kit registers. Written out by hand, every one
//! of them is a field, a `registry.register(name, help, field.clone())` call
//! and a help text that has to be kept in step with the field's doc comment.
//! [`service_metrics!`](crate::service_metrics) declares the struct, and the
//! field's doc comment *is* the help text Prometheus shows:
//!
//! ```
//! use prometheus_client::metrics::counter::Counter;
//!
//! voting_contract::service_metrics! {
//!     /// What the example counts.
//!     struct ExampleMetrics {
//!         /// Things done
//!         done: Counter = "example_things_done",
//!     }
//! }
//!
//! let metrics = ExampleMetrics::default();
//! let mut registry = prometheus_client::registry::Registry::default();
//! metrics.register(&mut registry);
//! metrics.done.inc();
//! ```

/// Declare a struct of metrics (`Clone + Default`, cheap to clone: the
/// clones share their values) and its `register(&self, &mut Registry)`.
/// Each field is `/// help text` then `name: Type = "metric_name",`.
#[macro_export]
macro_rules! service_metrics {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                #[doc = $help:literal]
                $field:ident : $ty:ty = $metric:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default)]
        $vis struct $name {
            $( #[doc = $help] $field: $ty, )*
        }

        impl $name {
            /// Register every metric under its declared name, with its doc
            /// comment as the help text.
            fn register(&self, registry: &mut $crate::__prometheus_client::registry::Registry) {
                $( registry.register($metric, $help.trim(), self.$field.clone()); )*
            }
        }
    };
}
