// Package nodeapi is what the node benchmarks need of a running node's HTTP
// side: creating boards through the REST API, building sync URLs, and
// reading /metrics. Loopback only: the benchmarks refuse other hosts.
package nodeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// CheckLoopback refuses a base URL whose host is not a loopback address:
// these tools generate load and must never aim it elsewhere.
func CheckLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("url %q: %w", base, err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("url %q: want http://127.0.0.1:port", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("url %q: only loopback addresses (127.0.0.0/8, ::1, localhost) may be load-tested", base)
	}
	return nil
}

// Client talks to one node.
type Client struct {
	Base string // http://127.0.0.1:8080
	HTTP *http.Client
}

// New returns a client of the node at base.
func New(base string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// Healthy checks /healthz.
func (c *Client) Healthy(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/healthz", nil)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

// Board is a created board.
type Board struct {
	ID    string
	Token string // the owner's token
}

// CreateBoard creates a public board through POST /v1/boards.
func (c *Client) CreateBoard(ctx context.Context, name string) (Board, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	req, _ := http.NewRequestWithContext(ctx, "POST", c.Base+"/v1/boards", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Board{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Board{}, fmt.Errorf("create board: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var out struct {
		Board struct {
			ID string `json:"id"`
		} `json:"board"`
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return Board{}, fmt.Errorf("create board: %w", err)
	}
	return Board{ID: out.Board.ID, Token: out.Token}, nil
}

// WSURL is the board's sync endpoint with the token.
func (c *Client) WSURL(b Board) string {
	return "ws" + strings.TrimPrefix(c.Base, "http") + "/v1/boards/" + b.ID + "/ws?token=" + url.QueryEscape(b.Token)
}

// Metrics is one scrape of /metrics: every sample by its full name with
// labels ("corkboard_rejected_total{reason=\"x\"}") and, summed over
// labels, by bare name.
type Metrics map[string]float64

// Scrape reads /metrics.
func (c *Client) Scrape(ctx context.Context) (Metrics, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+"/metrics", nil)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	m := Metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		full := line[:sp]
		m[full] = v
		if br := strings.IndexByte(full, '{'); br >= 0 {
			m[full[:br]] += v
		}
	}
	return m, sc.Err()
}

// Delta returns after[name] - before[name].
func Delta(before, after Metrics, name string) float64 { return after[name] - before[name] }

// HistQuantile estimates the q-quantile (0..1) of a Prometheus histogram
// from the change of its buckets between two scrapes: the upper bound (in
// the metric's unit) of the first bucket holding it; +Inf if beyond the
// last bound, NaN if nothing was observed.
func HistQuantile(before, after Metrics, name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + "_bucket{le=\""
	for k, v := range after {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(k, prefix), "\"}"), 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le, v - before[k]})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].n
	for _, b := range bs {
		if b.n >= q*total {
			return b.le
		}
	}
	return math.Inf(1)
}
