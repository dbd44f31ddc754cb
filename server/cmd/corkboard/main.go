// Command corkboard runs one Corkboard node: boards over WebSocket, stored in
// Pebble, fanned out through NATS (an embedded server unless --nats-url is
// given). Every flag can also be set by an environment variable:
// --data-dir is CORKBOARD_DATA_DIR, and so on. The secrets can be read from
// files: --secret-file, CORKBOARD_SECRET_FILE (secretFlags).
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/corkboard/corkboard/server/bus"
	"github.com/corkboard/corkboard/server/mail"
	"github.com/corkboard/corkboard/server/node"
	"github.com/corkboard/corkboard/server/webhook"
	"github.com/corkboard/corkboard/storage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "corkboard:", err)
		os.Exit(1)
	}
}

// envDefault makes every flag settable through CORKBOARD_<NAME>.
func envName(flagName string) string {
	return "CORKBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// run runs the command with args (without the program name); what it
// prints for the operator (--print-nats-nkey) goes to stdout.
func run(args []string, stdout io.Writer) error {
	if len(args) > 0 && (args[0] == "backup" || args[0] == "restore") {
		return runBackupCommand(args[0], args[1:], stdout)
	}
	fs := flag.NewFlagSet("corkboard", flag.ContinueOnError)
	var (
		addr        = fs.String("addr", ":8080", "address to listen on")
		dataDir     = fs.String("data-dir", "./data", "directory of the Pebble store")
		nodeID      = fs.String("node-id", "", "this node's id in the cluster (default: random)")
		natsURL     = fs.String("nats-url", "", "URL of an external NATS server/cluster (default: start an embedded one)")
		natsListen  = fs.String("nats-listen", "", "host:port for the embedded NATS server's client port (default: none)")
		natsCluster = fs.String("nats-cluster", "", "host:port for the embedded NATS server's cluster routes (default: no cluster)")
		natsAdv     = fs.String("nats-cluster-advertise", "", "host:port the other embedded servers reach this one's routes at, when it differs from --nats-cluster (NAT, a proxy)")
		natsRoutes  = fs.String("nats-routes", "", "comma-separated nats://host:port routes to the other embedded servers")
		natsRepl    = fs.Int("nats-replicas", 0, "copies of the cluster's metadata buckets in JetStream (default: 3 with --nats-cluster and two or more routes, else 1); an existing bucket keeps its own")
		natsCreds   = fs.String("nats-creds", "", "NATS credentials file for --nats-url")
		natsNkey    = fs.String("nats-nkey", "", "file holding an nkey seed for --nats-url (a user and password may instead be in the URL)")
		natsTLSCert = fs.String("nats-tls-cert", "", "PEM certificate: the embedded NATS server's client port and routes serve TLS with it (with --nats-url: a client certificate)")
		natsTLSKey  = fs.String("nats-tls-key", "", "PEM key of --nats-tls-cert")
		natsTLSCA   = fs.String("nats-tls-ca", "", "PEM CA file: routes verify each other's certificates against it (with --nats-url: the CAs of the server's certificate)")
		printNkey   = fs.Bool("print-nats-nkey", false, "print the nkey seed the embedded NATS client port accepts (derived from --secret) and exit")
		secret      = fs.String("secret", "", "hex secret (>= 32 bytes) that signs tokens; share it across a cluster (default: generated and kept in the store)")
		origins     = fs.String("allowed-origins", "", "comma-separated extra Origin host patterns allowed to open WebSockets")
		publicURL   = fs.String("public-url", "", "URL clients use to reach this node, for links (default http://localhost:<port>)")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		maxMessage  = fs.Int64("max-message", 1<<20, "largest WebSocket message accepted, bytes")
		opsRate     = fs.Float64("ops-per-second", 2000, "changes per second per connection")
		sendQueue   = fs.Int("send-queue", 512, "messages queued per connection before it is dropped as too slow")
		writeStall  = fs.Duration("write-stall", time.Minute, "how long a connection may read nothing while the node has something to send it before it is dropped as too slow")
		snapEvery   = fs.Int("snapshot-every", 1000, "changes between board snapshots")
		idle        = fs.Duration("idle-timeout", time.Minute, "how long a board with no connection stays in memory")
		retention   = fs.Duration("retention", 0, "drop op history older than this once a snapshot covers it (0: keep forever)")
		ackReplicas = fs.Int("ack-replicas", 0, "other nodes that must store a change before its sender is acked (0: durable on this node is enough)")
		syncGather  = fs.Duration("sync-gather", node.DefaultSyncGather, "least time between two fsyncs of the store's log while several boards are committing: appends asked for meanwhile share the next one (every ack still follows its fsync; a board committing alone never waits); 0: no wait")
		fanoutDelay = fs.Duration("fanout-delay", 5*time.Millisecond, "gather accepted changes this long before pushing them to a board's connections (0: at once); a few ms halve the CPU of a busy board")
		shutdownT   = fs.Duration("shutdown-timeout", 15*time.Second, "how long a graceful shutdown may take")
		mailFrom    = fs.String("mail-from", "Corkboard <corkboard@localhost>", "From address of e-mails (sign-in links, invites, notifications)")
		smtpAddr    = fs.String("smtp-addr", "", "SMTP relay host:port (default: none; e-mails are written to the log)")
		smtpUser    = fs.String("smtp-user", "", "SMTP AUTH user name")
		smtpPass    = fs.String("smtp-password", "", "SMTP AUTH password")
		metricsTok  = fs.String("metrics-token", "", "bearer token GET /metrics asks for (Authorization: Bearer …); empty: /metrics answers anyone")
		smtpTLS     = fs.String("smtp-tls", "starttls", `SMTP transport security: "starttls" (upgrade when offered; AUTH only over TLS), "tls" (implicit, port 465) or "none"`)
		hookPrivate = fs.Bool("webhooks-private", false, "let webhooks call private and loopback addresses (an intranet install); by default only public addresses")
		hooksMax    = fs.Int("webhooks-per-board", 10, "webhooks a board may have")
		hookWindow  = fs.Duration("webhook-debounce", 2*time.Second, "gather a board's changes this long into one webhook call per webhook and event class")
		hookBacklog = fs.Int("webhook-backlog", 1000, "webhook calls of a board that may wait for delivery; past it the oldest are dropped")
		notifyEvery = fs.Duration("notify-interval", time.Minute, "how often notifications and digests are checked")
	)
	// Hardening: proxies, connection limits, quotas (docs/SECURITY.md).
	var (
		trustedProxies = fs.String("trusted-proxies", "", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For names the client (default: none; the peer address is the client)")
		wsPerIP        = fs.Int("ws-per-ip", 64, "open WebSockets one client address may have (negative: no limit, and no --ws-opens-per-ip limit unless given); past it, 429")
		claimsPerIP    = fs.Int("replica-claims-per-ip", 200, "new replica ids one client address may claim on one board an hour, in the whole cluster (negative: no limit); past it, the batch is refused with rate_limited")
		wsOpensPerIP   = fs.Int("ws-opens-per-ip", 0, "WebSockets one client address may open per minute, closed since or not (0: 480, or no limit with a negative --ws-per-ip; negative: no limit); past it, 429 with Retry-After")
		maxWebSockets  = fs.Int("max-websockets", 0, "open WebSockets this node takes in all (0: no limit); past it, 503")
		readTimeout    = fs.Duration("http-read-timeout", 30*time.Second, "time to read a request (a picture upload's body gets 2 min)")
		writeTimeout   = fs.Duration("http-write-timeout", 60*time.Second, "time to write an answer (boards' logs, states and pictures get 5 min)")
		idleTimeout    = fs.Duration("http-idle-timeout", 2*time.Minute, "how long a keep-alive connection may wait for its next request")
		requireSignin  = fs.Bool("require-signin-to-create", false, "only signed-in people may create boards (recommended for a node on the internet)")
		boardsPerHour  = fs.Int("boards-per-hour", 20, "boards one address may create per hour without signing in (signed-in people: 5 times as many, per person)")
		boardBlobMiB   = fs.Int64("board-blob-mib", 100, "MiB of pictures one board may hold (negative: no limit); past it, 413")
		boardLogMiB    = fs.Int64("board-log-mib", node.DefaultBoardLogBytes>>20, "MiB of history (op log) one board may hold on this node (negative: no limit); past it, clients' changes are refused (too_large)")
		diskReserveMiB = fs.Int64("disk-reserve-mib", storage.DefaultDiskReserve>>20, "MiB kept free on the data directory's disk (0: none); below it, clients' new changes, pictures, boards and imports are refused (unavailable, 503) until space is freed, while the board reads and other nodes' changes are still stored")
		changeMiBDay   = fs.Int64("change-mib-per-day", 1024, "MiB of changes one signed-in person (the signed-in people of one address: 10 times as much), or one client address for anyone else, may send this node per day, over WebSockets, the write API and board files (negative: no limit); past it, rate_limited / 429")
		uploadMiBDay   = fs.Int64("upload-mib-per-day", 256, "MiB of pictures one address, and one signed-in person, may upload per day (negative: no limit); past it, 429")
	)
	secretFiles := addSecretFileFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: corkboard [flags]\n       corkboard backup|restore [--data-dir DIR] BACKUP-DIR\n\nRuns a Corkboard node. Each flag may also be set as an environment variable,\nfor example --data-dir as %s.\n\n", envName("data-dir"))
		fs.PrintDefaults()
	}
	// Environment first, flags override.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := readSecretFiles(fs, secretFiles); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	cfg := node.Config{Addr: *addr, DataDir: *dataDir, NodeID: *nodeID, PublicURL: *publicURL, Log: log}
	cfg.NATS.URL, cfg.NATS.ListenAddr, cfg.NATS.ClusterAddr = *natsURL, *natsListen, *natsCluster
	cfg.NATS.Routes = split(*natsRoutes)
	cfg.NATS.ClusterAdvertise = *natsAdv
	cfg.MetaReplicas = *natsRepl
	if cfg.MetaReplicas == 0 && *natsCluster != "" && len(cfg.NATS.Routes) >= 2 {
		cfg.MetaReplicas = 3
	}
	cfg.NATS.CredsFile, cfg.NATS.NkeyFile = *natsCreds, *natsNkey
	cfg.NATS.TLSCert, cfg.NATS.TLSKey, cfg.NATS.TLSCA = *natsTLSCert, *natsTLSKey, *natsTLSCA
	cfg.AllowedOrigins = split(*origins)
	if *secret != "" {
		b, err := hex.DecodeString(*secret)
		if err != nil || len(b) < 32 {
			return errors.New("--secret: want at least 64 hex digits")
		}
		cfg.Secret = b
	}
	if *printNkey {
		if cfg.Secret == nil {
			return errors.New("--print-nats-nkey: pass the cluster's --secret")
		}
		seed, err := bus.NodeSeed(cfg.Secret)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", seed)
		return nil
	}
	if (*natsCluster != "" || *natsListen != "") && *natsURL == "" && cfg.Secret == nil {
		// Checked again by the bus; said here in the flags' words.
		return errors.New("--nats-cluster and --nats-listen need --secret (or --secret-file, CORKBOARD_SECRET_FILE), the same on every node: " +
			"NATS route and client credentials derive from it")
	}
	cfg.Limits.MaxMessage, cfg.Limits.OpsPerSecond, cfg.Limits.SendQueue = *maxMessage, *opsRate, *sendQueue
	cfg.Limits.WriteStall = *writeStall
	cfg.Room.SnapshotEvery, cfg.Room.IdleTimeout, cfg.Room.Retention = *snapEvery, *idle, *retention
	cfg.Room.FanoutDelay = *fanoutDelay
	cfg.Room.MaxLogBytes = mib(*boardLogMiB)
	cfg.SyncGather = *syncGather
	cfg.MetricsToken = *metricsTok
	cfg.DiskReserve = -1
	if *diskReserveMiB > 0 {
		cfg.DiskReserve = *diskReserveMiB << 20
	}
	cfg.Room.AckReplicas = *ackReplicas
	cfg.Mail = node.MailConfig{From: *mailFrom, SMTP: mail.SMTPConfig{Addr: *smtpAddr, Username: *smtpUser, Password: *smtpPass, TLS: *smtpTLS}}
	switch *smtpTLS {
	case "starttls", "tls", "none":
	default:
		return errors.New(`--smtp-tls: "starttls", "tls" or "none"`)
	}
	if *hookPrivate {
		// The node's default reaches public addresses only: board owners
		// choose webhook URLs, and could otherwise make the node call
		// internal services.
		cfg.WebhookClient = webhook.PrivateClient(10 * time.Second)
	}
	cfg.Webhooks = node.WebhookLimits{MaxPerBoard: *hooksMax, Debounce: *hookWindow, MaxPending: *hookBacklog}
	cfg.NotifyInterval = *notifyEvery

	cfg.TrustedProxies = split(*trustedProxies)
	cfg.HTTP = node.HTTPLimits{ReadTimeout: *readTimeout, WriteTimeout: *writeTimeout, IdleTimeout: *idleTimeout,
		WebSocketsPerIP: *wsPerIP, MaxWebSockets: *maxWebSockets, WebSocketOpensPerIP: *wsOpensPerIP, ReplicaClaimsPerIP: *claimsPerIP}
	cfg.Quotas = node.Quotas{RequireSignInToCreate: *requireSignin, BoardsPerHour: *boardsPerHour, SignedInBoardsPerHour: 5 * *boardsPerHour,
		BoardBlobBytes: mib(*boardBlobMiB), UploadBytesPerDay: mib(*uploadMiBDay), ChangeBytesPerDay: mib(*changeMiBDay)}

	n, err := node.New(cfg)
	if err != nil {
		return err
	}
	// `corkboard backup` reaches the node here (backup.go).
	if stopAdmin, err := serveAdmin(n, *dataDir, log); err != nil {
		log.Warn("no admin socket: `corkboard backup` cannot reach this node", "err", err)
	} else {
		defer stopAdmin()
	}
	if f := os.Getenv("CORKBOARD_CPUPROFILE"); f != "" {
		// For benchmarks (bench/README.md): a CPU profile of the node's
		// whole life, written at shutdown.
		if stop, err := startCPUProfile(f); err != nil {
			log.Warn("no CPU profile", "err", err)
		} else {
			defer stop()
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- n.Serve() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-errc:
		n.Shutdown(context.Background())
		return err
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), *shutdownT)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// secretFlags are the flags whose value is a secret: each also has a
// <flag>-file form (and so CORKBOARD_<FLAG>_FILE) that reads the value from
// a file, so that the secret shows neither in the process list (`ps` shows
// argv to every user of the machine) nor in the environment, which
// /proc/<pid>/environ, crash reports and `docker inspect` may show. A
// Kubernetes or Docker secret mounted as a file is given as is. --nats-url
// is one of them because it may hold a user and password.
//
// Rejected alternatives: a value starting with "@" or "file:" read as a
// path (a secret could start with it, and the meaning of a value would
// depend on its content); refusing a file that others may read (a mounted
// Kubernetes Secret is often 0644 inside its own directory, and the check
// would say nothing about the directory; the README says to make it 0600).
var secretFlags = []string{"secret", "smtp-password", "nats-url", "metrics-token"}

// addSecretFileFlags adds <flag>-file for each of secretFlags defined in fs,
// returning them by the secret flag's name.
func addSecretFileFlags(fs *flag.FlagSet) map[string]*string {
	files := map[string]*string{}
	for _, name := range secretFlags {
		if fs.Lookup(name) == nil {
			continue
		}
		files[name] = fs.String(name+"-file", "", fmt.Sprintf("file holding the value of --%s (a trailing newline is ignored); keeps it out of the process list. Make it readable by this user only (0600)", name))
	}
	return files
}

// readSecretFiles sets each secret flag from its -file flag, when that is
// given: the file's content without its trailing newline. Both the value
// and the file is an error, whichever of the command line and the
// environment gave each (the message names them), as is an empty or
// unreadable file (the message names it). fs must have been parsed.
func readSecretFiles(fs *flag.FlagSet, files map[string]*string) error {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	origin := func(name string) string {
		if onCommandLine[name] {
			return "--" + name
		}
		return envName(name)
	}
	for _, name := range secretFlags {
		file := files[name]
		if file == nil || *file == "" {
			continue
		}
		fileFlag := name + "-file"
		if v := fs.Lookup(name).Value.String(); v != "" {
			return fmt.Errorf("%s and %s are both given: give the value of --%s one way only", origin(name), origin(fileFlag), name)
		}
		b, err := os.ReadFile(*file)
		if err != nil {
			return fmt.Errorf("%s: %w", origin(fileFlag), err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return fmt.Errorf("%s: %s is empty", origin(fileFlag), *file)
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("%s (%s): %w", origin(fileFlag), *file, err)
		}
	}
	return nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// mib converts a flag's MiB to bytes, keeping a negative "no limit".
func mib(v int64) int64 {
	if v < 0 {
		return -1
	}
	return v << 20
}
