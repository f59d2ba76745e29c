// Package catalog owns the event-type catalogue: for each event type a
// producer publishes, a description, an optional JSON Schema of its data
// and an optional example. The catalogue is global (event types are the
// producer's vocabulary, shared by every tenant): admin keys change it,
// any key reads it.
//
// Schemas are compiled once, when a type is created or changed, and every
// process keeps the compiled catalogue in memory, following its key-value
// bucket, so checking an event against its type's schema never reads the
// bucket. An event whose type has no catalogue entry, or an entry without
// a schema, is accepted as before.
package catalog
