package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisHint tells a developer how to get Redis; it is the Skip/Fatal text.
const redisHint = "apt-get install redis-server redis-sentinel; ./scripts/test.sh installs them"

// Bounds for starting and stopping Redis. A start takes ~0.05 s.
const (
	redisReadyTimeout = 10 * time.Second
	redisStopTimeout  = 5 * time.Second
	redisStartTries   = 3
)

// RedisOptions configures StartRedis.
type RedisOptions struct {
	// Password, when set, is the default user's password (requirepass).
	Password string
	// User and UserPassword, when set, create an ACL user with every
	// permission on every key and channel; the default user then has
	// no access at all (the way a hardened Redis is run).
	User, UserPassword string
	// TLS makes the server listen with TLS only (a throw-away CA and a
	// certificate for 127.0.0.1 and localhost; Redis.CAFile and
	// Redis.RootCAs hold the CA). Clients then need "rediss://".
	TLS bool
	// ReplicaOf makes the server a replica of that "host port" master.
	ReplicaOf *Redis
}

// Redis is a running redis-server, private to one test: no persistence
// (--save "" --appendonly no), so a restart comes back empty, the way a
// Redis without persistence does after a crash.
type Redis struct {
	Addr    string // 127.0.0.1:port
	Port    int
	Dir     string
	CAFile  string         // TLS only
	RootCAs *x509.CertPool // TLS only

	certFile, keyFile string // TLS only

	opts RedisOptions
	path string
	argv []string // the command line, when not r.args() (sentinels)
	log  *tailBuffer
	mu   sync.Mutex
	proc *child // the running (or last) server; a Restart starts another
}

// StartRedis starts a private redis-server on a free 127.0.0.1 port and
// registers t.Cleanup to stop it. It skips the test (or fails it in CI)
// when redis-server is not installed. Redis runs in the foreground as a
// child process (its PID is the Cmd's own; on Linux it gets SIGKILL if
// the test binary dies before its cleanup runs).
func StartRedis(t testing.TB, opts RedisOptions) *Redis {
	t.Helper()
	Need(t, "redis-server", redisHint)
	path, _ := lookTool("redis-server")
	r := &Redis{Dir: t.TempDir(), opts: opts, path: path, log: &tailBuffer{max: 256 << 10}}
	if opts.TLS {
		certs, err := writeTestCerts(r.Dir)
		if err != nil {
			t.Fatalf("testenv: certificates: %v", err)
		}
		r.CAFile, r.RootCAs, r.certFile, r.keyFile = certs.caFile, certs.pool, certs.certFile, certs.keyFile
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	for try := 1; ; try++ {
		ports, err := FreePorts(1)
		if err != nil {
			t.Fatalf("testenv: free port: %v", err)
		}
		r.Port = ports[0]
		r.Addr = "127.0.0.1:" + strconv.Itoa(r.Port)
		err = r.start()
		if err == nil {
			return r
		}
		if errors.Is(err, errPortInUse) && try < redisStartTries {
			t.Logf("testenv: redis: %v; retrying with another port", err)
			r.log.Reset()
			continue
		}
		t.Fatalf("testenv: redis: %v\n--- redis log ---\n%s", err, r.Log())
	}
}

// URL returns the URL a client connects with: redis:// or rediss://, with
// the ACL user or the password of the options.
func (r *Redis) URL() string {
	scheme := "redis"
	if r.opts.TLS {
		scheme = "rediss"
	}
	auth := ""
	switch {
	case r.opts.User != "":
		auth = r.opts.User + ":" + r.opts.UserPassword + "@"
	case r.opts.Password != "":
		auth = ":" + r.opts.Password + "@"
	}
	return scheme + "://" + auth + r.Addr
}

func (r *Redis) args() []string {
	a := []string{
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.Dir, "--daemonize", "no", "--logfile", "",
		"--protected-mode", "no", // bound to loopback; sentinels and replicas connect without auth
	}
	port := strconv.Itoa(r.Port)
	if r.opts.TLS {
		a = append(a, "--port", "0", "--tls-port", port,
			"--tls-cert-file", r.certFile, "--tls-key-file", r.keyFile,
			"--tls-ca-cert-file", r.CAFile, "--tls-auth-clients", "no")
	} else {
		a = append(a, "--port", port)
	}
	if r.opts.Password != "" {
		a = append(a, "--requirepass", r.opts.Password)
	}
	if r.opts.User != "" {
		a = append(a, "--user", r.opts.User, "on", ">"+r.opts.UserPassword, "~*", "&*", "+@all", "--user", "default", "off")
	}
	if m := r.opts.ReplicaOf; m != nil {
		a = append(a, "--replicaof", "127.0.0.1", strconv.Itoa(m.Port))
	}
	return a
}

// start runs redis-server and waits until it answers PING.
func (r *Redis) start() error {
	argv := r.argv
	if argv == nil {
		argv = r.args()
	}
	proc, err := startChild(r.path, argv, r.log, redisReadyTimeout, r.Ping)
	r.mu.Lock()
	r.proc = proc
	r.mu.Unlock()
	return err
}

// Ping reports whether the server answers PING (after AUTH, if the
// options set a password or user).
func (r *Redis) Ping() error {
	// A plain connect first: while the server starts, this fails without
	// go-redis logging every refused dial.
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	_ = c.Close()
	_, err = r.Do("PING")
	return err
}

// Do sends one command on a new connection and returns its reply. It is
// meant for test set-up and checks (FLUSHALL, DBSIZE, INFO counters), not
// for what is under test.
func (r *Redis) Do(args ...any) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := redis.NewClient(r.ClientOptions())
	defer c.Close()
	return c.Do(ctx, args...).Result()
}

// ClientOptions returns go-redis options for one connection to the server,
// without retries (a test probe should see a failure at once).
func (r *Redis) ClientOptions() *redis.Options {
	o := &redis.Options{Addr: r.Addr, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second, DialerRetries: 1}
	switch {
	case r.opts.User != "":
		o.Username, o.Password = r.opts.User, r.opts.UserPassword
	case r.opts.Password != "":
		o.Password = r.opts.Password
	}
	if r.opts.TLS {
		o.TLSConfig = &tls.Config{RootCAs: r.RootCAs, ServerName: "127.0.0.1"}
	}
	return o
}

// Stop terminates redis-server (SIGTERM, then SIGKILL) and waits for it to
// exit, within bounds. It is idempotent; t.Cleanup calls it too. Nothing
// is saved, so the data is gone.
func (r *Redis) Stop() error { return r.current().stop(syscall.SIGTERM, redisStopTimeout) }

// Kill ends redis-server with SIGKILL, as a crash would, and waits for it.
func (r *Redis) Kill() error { return r.current().stop(syscall.SIGKILL, redisStopTimeout) }

// current is the running (or last) process; nil before the first start.
func (r *Redis) current() *child {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// Restart starts the server again on the same port after Stop or Kill:
// empty, as a Redis without persistence comes back.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	if err := r.Stop(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	var err error
	for try := 1; try <= redisStartTries; try++ {
		if err = r.start(); err == nil {
			return
		}
		// The port may linger briefly after the old process exits.
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: redis restart: %v\n--- redis log ---\n%s", err, r.Log())
}

// Log returns the end of redis-server's log.
func (r *Redis) Log() string { return r.log.String() }

// PID returns the process id of the running server.
func (r *Redis) PID() int {
	if c := r.current(); c != nil && c.cmd.Process != nil {
		return c.cmd.Process.Pid
	}
	return 0
}
