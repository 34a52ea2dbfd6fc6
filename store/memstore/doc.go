// Package memstore holds the in-memory implementations of package store's
// interfaces: the state of one gatehouse process, lost on restart. Each is
// bounded in memory or prunes what has expired, and never returns an
// error. A networked backend can use Revocations as its local view.
//
// The implementations live apart from the interfaces so that the packages
// holding state (proxy/session, proxy/oauth, proxy/authapi, acme) depend
// on the contracts, and a networked backend beside this package can reuse
// these types without an import cycle.
package memstore
