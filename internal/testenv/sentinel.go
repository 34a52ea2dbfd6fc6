package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the sentinels of StartSentinels monitor.
const SentinelMaster = "gatehouse"

// Sentinels is a group of running redis-sentinel processes that monitor
// one master, private to one test.
type Sentinels struct {
	Addrs  []string // 127.0.0.1:port of each sentinel
	Master string   // the monitored master's name (SentinelMaster)
	procs  []*Redis // each sentinel, stopped by t.Cleanup
}

// StartSentinels starts n sentinels (quorum 2, or 1 for a single one)
// monitoring master under SentinelMaster, with a 1 s down-after time (less
// flaps on a busy 2-core machine) and a 3 s failover timeout, and waits
// until each one knows the master. A failover after the master dies takes
// about 6 s. It skips the test (or fails it in CI) without redis-sentinel.
func StartSentinels(t testing.TB, master *Redis, n int) *Sentinels {
	t.Helper()
	Need(t, "redis-sentinel", redisHint)
	path, _ := lookTool("redis-sentinel")
	quorum := min(2, n)
	s := &Sentinels{Master: SentinelMaster}
	for i := range n {
		r := &Redis{Dir: t.TempDir(), path: path, log: &tailBuffer{max: 256 << 10}}
		t.Cleanup(func() {
			if err := r.Stop(); err != nil {
				t.Errorf("testenv: %v", err)
			}
		})
		var err error
		for try := 1; try <= redisStartTries; try++ {
			ports, perr := FreePorts(1)
			if perr != nil {
				t.Fatalf("testenv: free port: %v", perr)
			}
			r.Port = ports[0]
			r.Addr = "127.0.0.1:" + strconv.Itoa(r.Port)
			// Sentinel rewrites its config file: each gets its own.
			conf := filepath.Join(r.Dir, "sentinel.conf")
			body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d %d\n"+
				"sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 3000\n",
				r.Port, r.Dir, SentinelMaster, master.Port, quorum, SentinelMaster, SentinelMaster)
			if master.opts.Password != "" {
				body += fmt.Sprintf("sentinel auth-pass %s %s\n", SentinelMaster, master.opts.Password)
			}
			if err = os.WriteFile(conf, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			r.argv = []string{conf}
			if err = r.start(); err == nil {
				break
			}
			r.log.Reset()
		}
		if err != nil {
			t.Fatalf("testenv: sentinel %d: %v\n--- log ---\n%s", i, err, r.Log())
		}
		s.procs = append(s.procs, r)
		s.Addrs = append(s.Addrs, r.Addr)
	}
	// Wait until every sentinel names the master.
	deadline := time.Now().Add(redisReadyTimeout)
	for _, addr := range s.Addrs {
		for {
			got, err := s.masterFrom(addr)
			if err == nil && got == master.Addr {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testenv: sentinel %s does not know the master: %v %q", addr, err, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// MasterAddr returns the master's address as the first sentinel that
// answers reports it.
func (s *Sentinels) MasterAddr() (string, error) {
	var err error
	for _, addr := range s.Addrs {
		var got string
		if got, err = s.masterFrom(addr); err == nil {
			return got, nil
		}
	}
	return "", err
}

func (s *Sentinels) masterFrom(addr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := redis.NewSentinelClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, s.Master).Result()
	if err != nil {
		return "", err
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("unexpected reply %q", hp)
	}
	return hp[0] + ":" + hp[1], nil
}

// WaitForFailover waits, up to timeout, until the sentinels name a master
// other than old, and returns it.
func (s *Sentinels) WaitForFailover(old string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.MasterAddr()
		if err == nil && got != old {
			return got, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no failover from %s within %s (last: %q, %v)", old, timeout, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
