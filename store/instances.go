package store

import "time"

// InstanceInfo is what one gatehouse process tells the others about
// itself through a cluster's heartbeats (GET /admin/instances lists them):
// who it is, what it runs, and which configuration it serves, so that an
// operator sees when a deploy has reached every instance. It holds no
// configuration value and no secret.
type InstanceInfo struct {
	ID        string    `json:"id"`         // random at every start (proxy.Options.InstanceID)
	Hostname  string    `json:"hostname"`   // os.Hostname
	PID       int       `json:"pid"`        // os.Getpid
	Version   string    `json:"version"`    // build information
	StartedAt time.Time `json:"started_at"` // when the process started serving

	ConfigHash string    `json:"config_hash"` // of the snapshot in service
	LoadedAt   time.Time `json:"loaded_at"`   // when it was put in service

	// The reload outcomes (reload.Status): attempts that put a new
	// snapshot in service and rejected ones; LastReload is "ok",
	// "rejected" or "" (none yet), LastTrigger what started it ("file",
	// "sighup", "admin"), LastErrorAt when it was rejected.
	ReloadsOK     uint64     `json:"reloads_ok"`
	ReloadsFailed uint64     `json:"reloads_failed"`
	LastReload    string     `json:"last_reload,omitempty"`
	LastTrigger   string     `json:"last_trigger,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`

	// HeartbeatAt is when the instance last published this (zero for an
	// entry that was not read from the shared store).
	HeartbeatAt time.Time `json:"heartbeat_at,omitzero"`
}
