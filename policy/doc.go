// Package policy holds gatehouse's compiled, immutable configuration (what
// requests and decisions need; how to run the process, such as the
// listeners and how to reach login providers, is package settings) and the
// pure decisions made from it: which upstream a path routes to, which app an
// API key belongs to, whether a role may use a verb on a path, and which
// cors rule answers for a path and an Origin. Explain answers "would this
// request pass, and why?" by running Decide's own walk with a recorder. A grant with a record filter
// carries its compiled filter (policy/filter) and its records plan
// (policy/records, NewRecordPlan), and a sessions block its compiled keys
// (SessionKeys), so a snapshot is complete: nothing of it is compiled, or
// can fail, when a server loads it.
//
// A *Snapshot is built once by New from a Spec (the config package produces
// the Spec from HCL and reports positioned diagnostics; New only re-checks
// invariants) and is never mutated afterwards, so it can be shared by any
// number of goroutines and swapped atomically on reload. The package does no
// I/O and imports no HTTP server code so that it can be tested and benchmarked
// on its own.
package policy
