package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reasons a tunnel is closed for, beside the refusal reasons of the stages
// that decide it again after a reload (user_inactive, app_inactive, …).
const (
	reasonTunnelUpstreamChanged = "tunnel_upstream_changed"
	reasonTunnelAuthPath        = "tunnel_auth_path"
)

// A tunnel is an accepted WebSocket upgrade: after the 101, ReverseProxy
// copies bytes both ways between the client and the upstream connection
// until either side closes. It must not outlive what allowed it, so the
// Server keeps every open tunnel in its tunnels registry and closes one
//   - when its session is revoked (logout, or refresh, which revokes the
//     token it replaces): session.Options.OnRevoke;
//   - when its session expires (exp of the token that opened it): a timer;
//   - when a reload (Server.Load) makes the new configuration refuse its
//     upgrade request: the request is decided again on the new snapshot
//     by the same stages that admitted it (redecide);
//   - when the Server is closed.
//
// Closing means closing the upstream end, ReverseProxy's res.Body of the
// 101: the copy from the upstream then fails, and ReverseProxy closes the
// client connection too. No goroutine is added per tunnel (a timer only for
// tunnels with a session).
type tunnel struct {
	io.ReadWriteCloser // the upstream end: the 101 response's Body

	srv      *Server
	r        *http.Request // the upgrade request, to decide it again
	peer     netip.Addr
	id       string // request id
	upstream string // name of the upstream it goes to
	sid      string // session id; "" for tunnels opened with an API key only
	user     string
	app      string

	timer *time.Timer // session expiry; guarded by tunnels.mu
	ended atomic.Bool
}

// tunnelCW is a tunnel whose upstream end can half-close, so that
// ReverseProxy still passes a client's end of stream on as a FIN.
type tunnelCW struct{ *tunnel }

func (t tunnelCW) CloseWrite() error {
	return t.ReadWriteCloser.(interface{ CloseWrite() error }).CloseWrite()
}

// Close ends the tunnel normally (ReverseProxy closes its end).
func (t *tunnel) Close() error { return t.close("") }

// close removes t from the registry and closes the upstream end; reason,
// if not "", says why gatehouse ended the tunnel, for the log. Only the
// first call does anything.
func (t *tunnel) close(reason string) error {
	if !t.ended.CompareAndSwap(false, true) {
		return nil
	}
	t.srv.tunnels.remove(t)
	if reason != "" {
		t.srv.log.Info("tunnel closed", "request_id", t.id, "reason", reason,
			"app", t.app, "user", t.user, "upstream", t.upstream)
	}
	return t.ReadWriteCloser.Close()
}

// tunnels is the registry of open tunnels. Its zero value is ready.
type tunnels struct {
	mu     sync.Mutex
	all    map[*tunnel]struct{}
	bySID  map[string][]*tunnel
	closed bool // Server.Close ran: no new tunnels
}

var errServerClosed = errors.New("server closed")

// add registers t, with a timer that closes it at expires (when it has a
// session).
func (reg *tunnels) add(t *tunnel, expires time.Time) error {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.closed {
		return refuse(http.StatusServiceUnavailable, reasonNotReady, errServerClosed)
	}
	if reg.all == nil {
		reg.all = make(map[*tunnel]struct{})
		reg.bySID = make(map[string][]*tunnel)
	}
	reg.all[t] = struct{}{}
	if t.sid != "" {
		reg.bySID[t.sid] = append(reg.bySID[t.sid], t)
		// The callback takes reg.mu (in close), so it cannot run before
		// this assignment is done.
		t.timer = time.AfterFunc(time.Until(expires), func() { _ = t.close(reasonSessionExpired) })
	}
	return nil
}

func (reg *tunnels) remove(t *tunnel) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	delete(reg.all, t)
	if t.timer != nil {
		t.timer.Stop()
	}
	if t.sid == "" {
		return
	}
	list := reg.bySID[t.sid]
	for i, o := range list {
		if o == t {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(reg.bySID, t.sid)
	} else {
		reg.bySID[t.sid] = list
	}
}

// list returns the open tunnels, or those of session sid when sid is not "".
func (reg *tunnels) list(sid string) []*tunnel {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if sid != "" {
		return append([]*tunnel(nil), reg.bySID[sid]...)
	}
	out := make([]*tunnel, 0, len(reg.all))
	for t := range reg.all {
		out = append(out, t)
	}
	return out
}

// revoked closes the tunnels of session sid (session.Options.OnRevoke).
func (reg *tunnels) revoked(sid string) {
	for _, t := range reg.list(sid) {
		_ = t.close(reasonSessionRevoked)
	}
}

// closeAll closes every tunnel and refuses new ones (Server.Close).
func (reg *tunnels) closeAll() {
	reg.mu.Lock()
	reg.closed = true
	reg.mu.Unlock()
	for _, t := range reg.list("") {
		_ = t.close("")
	}
}

// openTunnel registers the tunnel a 101 response opens, replacing
// res.Body with it. It refuses the tunnel (and ReverseProxy then closes
// the upstream connection and answers with the error) when, between the
// decision and the 101, the session was revoked or a reload replaced the
// snapshot the request was decided on and the new one refuses it.
func (x *transaction) openTunnel(res *http.Response) error {
	rwc, ok := res.Body.(io.ReadWriteCloser)
	if !ok {
		return nil // ReverseProxy refuses such a 101 itself (502)
	}
	t := &tunnel{ReadWriteCloser: rwc, srv: x.srv, r: x.r, peer: x.facts.peer, id: x.id, upstream: x.facts.route.Upstream.Name(), user: x.who.ident.User}
	if x.who.ident.App != nil {
		t.app = x.who.ident.App.Name()
	}
	var expires, issued time.Time
	if s := x.who.sess; s != nil {
		t.sid, expires, issued = s.ID, s.ExpiresAt, s.IssuedAt
	}
	if _, ok := rwc.(interface{ CloseWrite() error }); ok {
		res.Body = tunnelCW{t}
	} else {
		res.Body = t
	}
	srv := x.srv
	if err := srv.tunnels.add(t, expires); err != nil {
		return err
	}
	// The order matters: Revoke records the revocation before it looks
	// for the session's tunnels, Load swaps the generation before it
	// decides the open tunnels again, and add registered t before these
	// checks. So either they find t, or t finds their change here.
	if t.sid != "" && srv.sessions.Revoked(t.sid, issued) {
		return refuse(http.StatusUnauthorized, reasonSessionRevoked, nil)
	}
	if g := srv.gen.Load(); g != x.gen {
		return srv.redecide(t, g)
	}
	return nil
}

// recheckTunnels decides every open tunnel's upgrade request again on g
// and closes those that g refuses (Server.Load).
func (s *Server) recheckTunnels(g *generation) {
	for _, t := range s.tunnels.list("") {
		if err := s.redecide(t, g); err != nil {
			reason := reasonInternal
			var e *Error
			if errors.As(err, &e) {
				reason = e.Reason
			}
			_ = t.close(reason)
		}
	}
}

// redecide runs t's upgrade request through the deciding stages again (those
// the pipeline marks redecide), on generation g: canonicalize, cors, route,
// authenticate (API key and session, whose revocation and expiry count),
// authorize, upstreamHeaders, filterRecords (which refuses upgrades on
// filtered grants) and upgrade (the Origin check). It returns why g refuses
// the request, or nil. A path that is now gatehouse's own (/auth/ with a
// sessions block), or that now routes to another upstream (checked before
// upgrade), is refused too. Nothing here writes a response or reaches an
// upstream.
func (s *Server) redecide(t *tunnel, g *generation) error {
	y := &transaction{srv: s, w: headerSink(make(http.Header)), r: t.r, gen: g, id: t.id, facts: facts{peer: t.peer}, start: time.Now()}
	y.identifyClient()
	for _, st := range s.front {
		if !st.redecide {
			continue
		}
		if err := st.serve(y); err != nil {
			return err
		}
	}
	if g.keys != nil && strings.HasPrefix(y.facts.path.Escaped, AuthPrefix) {
		return refuse(http.StatusNotFound, reasonTunnelAuthPath, nil)
	}
	for _, st := range s.stages {
		if !st.redecide {
			continue
		}
		if _, ok := st.stage.(upgrade); ok && y.facts.route.Upstream.Name() != t.upstream {
			return refuse(http.StatusBadGateway, reasonTunnelUpstreamChanged, nil)
		}
		if err := st.serve(y); err != nil {
			return err
		}
	}
	return nil
}

// headerSink is the response writer of redecide: the cors stage sets
// headers on it (so it must not be nil), and nothing is ever written.
type headerSink map[string][]string

func (h headerSink) Header() http.Header       { return http.Header(h) }
func (headerSink) Write(b []byte) (int, error) { return len(b), nil }
func (headerSink) WriteHeader(int)             {}

// Interface guards.
var (
	_ io.ReadWriteCloser  = (*tunnel)(nil)
	_ http.ResponseWriter = headerSink(nil)
)
