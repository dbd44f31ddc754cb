package main

import "testing"

func TestParseMix(t *testing.T) {
	m, err := parseMix("set=70, text=20,create=5,move=3,vote=2,set=0")
	if err != nil || len(m) != 5 || m[0].kind != kindSet || m[0].weight != 70 {
		t.Fatalf("parseMix = %v, %v", m, err)
	}
	for _, bad := range []string{"", "set=0", "paint=3", "set", "set=-1", "set=x"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("parseMix(%q) accepted", bad)
		}
	}
}

func TestFlagsRefuseRemoteURL(t *testing.T) {
	if _, err := parseFlags([]string{"-url", "http://10.1.2.3:8080"}); err == nil {
		t.Fatal("a non-loopback url was accepted")
	}
	if _, err := parseFlags([]string{"-clients", "10", "-boards", "20"}); err == nil {
		t.Fatal("more boards than clients was accepted")
	}
}
