package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrNotPublic is the error (wrapped) of a webhook whose host resolves to
// an address that PublicClient does not connect to.
var ErrNotPublic = errors.New("webhook: address is not public")

// PublicClient returns an HTTP client for webhooks that connects only to
// public unicast addresses: not loopback, private (RFC 1918, fc00::/7),
// link-local (cloud metadata services live at 169.254.169.254), shared
// (100.64.0.0/10), multicast or otherwise reserved ones. Board owners
// choose webhook URLs; without this a board owner could make the node
// POST to services on its own network.
//
// The check runs on the address actually dialled, after DNS resolution,
// so a name that resolves to a public address when the URL is saved and
// to a private one later (DNS rebinding) is still refused. Rejected:
// checking the URL's host when the webhook is configured, which that
// defeats. Proxies from the environment are not used: the proxy's address
// would be the one checked. A refused address is a permanent failure.
//
// timeout bounds each request (zero means 30 seconds). A node whose
// webhooks deliberately go to a private network (an intranet install)
// passes its own client to Deliverer instead.
func PublicClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	d := &net.Dialer{
		Timeout: 10 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %q", ErrNotPublic, address)
			}
			if !IsPublic(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrNotPublic, ap.Addr())
			}
			return nil
		},
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		},
	}
}

// PrivateClient returns an HTTP client for webhooks that may connect to
// any address, private networks and loopback included: for an intranet
// install whose board owners are all trusted (the --webhooks-private
// flag), and for tests with a loopback receiver. It has PublicClient's
// timeouts and no proxy from the environment.
func PrivateClient(timeout time.Duration) *http.Client {
	c := PublicClient(timeout)
	t := c.Transport.(*http.Transport)
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	return c
}

// reserved are IPv4 ranges that are neither private nor public by the
// netip predicates but must not be reached either.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed a private IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed a private IPv4 address
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001:10::/28"),    // ORCHID
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds an IPv4 address
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// IsPublic reports whether a webhook may be sent to addr (see
// PublicClient).
func IsPublic(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
