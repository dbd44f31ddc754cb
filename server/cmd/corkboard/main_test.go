package main

import (
	"os"
	"strings"
	"testing"
)

// A clustered node or an open NATS client port needs the shared secret:
// without --secret the command stops before opening anything and says so.
func TestNATSPortsNeedSecret(t *testing.T) {
	for _, env := range []string{"CORKBOARD_SECRET", "CORKBOARD_NATS_URL", "CORKBOARD_NATS_CLUSTER", "CORKBOARD_NATS_LISTEN"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--nats-cluster", "127.0.0.1:0"},
		{"--nats-listen", "127.0.0.1:0"},
		{"--print-nats-nkey"},
	} {
		err := run(append(args, "--data-dir", dir+"/data", "--addr", "127.0.0.1:0"))
		if err == nil || !strings.Contains(err.Error(), "--secret") {
			t.Errorf("%v: %v, want an error asking for --secret", args, err)
		}
	}
	if _, err := os.Stat(dir + "/data"); !os.IsNotExist(err) {
		t.Errorf("the store was opened: %v", err)
	}
}
