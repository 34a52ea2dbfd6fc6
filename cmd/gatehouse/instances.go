package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/reload"
	"github.com/gatehouse-dev/gatehouse/store"
	"github.com/gatehouse-dev/gatehouse/store/redisstore"
)

// instances is GET /admin/instances' source: this process's description
// and, with a cluster block, the heartbeats of every instance in Redis.
type instances struct {
	info  func() store.InstanceInfo
	heart *redisstore.Instances // nil without a cluster block
}

// startInstances describes this process (id, host, pid, version, start
// time, the configuration in service and the reload outcomes of rl, nil
// without reloads) and, with a cluster client, starts publishing that
// every redisstore.DefaultHeartbeatInterval with a TTL of
// redisstore.DefaultHeartbeatTTL. Stop it with close.
func startInstances(cl *cluster, srv *proxy.Server, rl *reload.Reloader, logger *slog.Logger) *instances {
	host, _ := os.Hostname()
	started := time.Now().UTC()
	ver := versionString()
	info := func() store.InstanceInfo {
		in := store.InstanceInfo{ID: srv.InstanceID(), Hostname: host, PID: os.Getpid(), Version: ver, StartedAt: started}
		read := func(rs reload.Status) {
			var at time.Time
			in.ConfigHash, at = srv.Loaded()
			in.LoadedAt = at.UTC()
			in.ReloadsOK, in.ReloadsFailed, in.LastTrigger = rs.OK, rs.Failed, rs.LastTrigger
			switch {
			case !rs.LastErrorAt.IsZero():
				in.LastReload = "rejected"
				t := rs.LastErrorAt.UTC()
				in.LastErrorAt = &t
			case rs.OK > 0:
				in.LastReload = "ok"
			}
		}
		if rl == nil {
			read(reload.Status{})
		} else {
			rl.View(read) // the snapshot with the outcome that loaded it
		}
		return in
	}
	in := &instances{info: info}
	if cl.client != nil {
		h, err := redisstore.NewInstances(cl.client.Redis(), cl.client.Prefix(), redisstore.InstancesOptions{
			ID: srv.InstanceID(), Logger: logger, Info: info,
		})
		if err != nil {
			logger.Error("instance heartbeats not started", "component", "cluster", "error", err.Error())
		} else {
			in.heart = h
		}
	}
	return in
}

// adminOptions returns opts with GET /admin/instances served by in.
func (in *instances) adminOptions(opts proxy.AdminOptions) proxy.AdminOptions {
	opts.Instances, opts.Self = in.list, in.info
	return opts
}

// list returns the live instances: from Redis with a cluster block,
// otherwise this one alone.
func (in *instances) list(ctx context.Context) ([]store.InstanceInfo, error) {
	if in.heart == nil {
		return []store.InstanceInfo{in.info()}, nil
	}
	return in.heart.List(ctx)
}

// close stops the heartbeats and removes this instance from the list.
func (in *instances) close() {
	if in.heart != nil {
		in.heart.Close()
	}
}
