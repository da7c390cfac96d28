// Package graphtest is a simulated Microsoft Entra tenant that speaks the
// Microsoft Graph v1.0 wire format (plus the Entra v2.0 token endpoint), so
// signoutbot's tests, benchmarks and demo can run against something that
// behaves like production — including OData $filter/$search semantics,
// paging, $batch, throttling with Retry-After, transient faults,
// replication delay, token lifetime policies and the directory audit log of
// revocations — without a real tenant.
//
// The tenant content is deterministic for a given Options.Seed so runs repeat.
// Nothing here is secret: the fixed client secret and generated keys exist
// only to exercise the real authentication code paths.
package graphtest
