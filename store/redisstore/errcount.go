package redisstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// errorCounter is a go-redis hook that counts failed commands, for the
// metrics (Client.Errors). Not failures: redis.Nil and "ERR no such key"
// (a missing key or stream, an empty blocking read), a NOSCRIPT answer (go-redis retries EVALSHA as EVAL), a
// context the caller canceled (a deadline that passed is a failure), and
// the connection handshake's optional commands.
type errorCounter struct {
	n *atomic.Uint64
}

var _ redis.Hook = errorCounter{}

func (h errorCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil && !errors.Is(ctx.Err(), context.Canceled) {
			h.n.Add(1)
		}
		return c, err
	}
}

func (h errorCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if !handshake(cmd) {
			h.count(ctx, err)
		}
		return err
	}
}

func (h errorCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil {
			for _, cmd := range cmds {
				if !handshake(cmd) && failed(ctx, cmd.Err()) {
					h.n.Add(1)
					break
				}
			}
		}
		return err
	}
}

func (h errorCounter) count(ctx context.Context, err error) {
	if failed(ctx, err) {
		h.n.Add(1)
	}
}

// failed reports whether err is a failure to count.
func failed(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(ctx.Err(), context.Canceled) {
		return false
	}
	msg := err.Error()
	return !strings.HasPrefix(msg, "NOSCRIPT") && msg != "ERR no such key"
}

// handshake reports whether cmd is one go-redis sends when it opens a
// connection to learn what the server supports (HELLO, CLIENT …): an
// older server refuses some of them, and go-redis carries on without.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client":
		return true
	}
	return false
}
