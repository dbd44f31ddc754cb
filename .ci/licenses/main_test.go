package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const mitText = `MIT License

Copyright (c) 2021 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
`

const bsdConditions = `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are
met:

   * Redistributions of source code must retain the above copyright
notice, this list of conditions and the following disclaimer.
   * Redistributions in binary form must reproduce the above
copyright notice, this list of conditions and the following disclaimer
in the documentation and/or other materials provided with the
distribution.
`

const bsdEndorsement = `   * Neither the name of Google Inc. nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.
`

const bsdDisclaimerText = `
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
"AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.
`

const iscText = `Copyright (c) 2016, Someone

Permission to use, copy, modify, and/or distribute this software for any purpose
with or without fee is hereby granted, provided that the above copyright notice
and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES.
`

const wtfplText = `        DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE
                    Version 2, December 2004

            DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE
   TERMS AND CONDITIONS FOR COPYING, DISTRIBUTION AND MODIFICATION

  0. You just DO WHAT THE FUCK YOU WANT TO.
`

const gplText = `This program is free software: you can redistribute it and/or modify
it under the terms of the GNU General Public License as published by
the Free Software Foundation, either version 3 of the License, or
(at your option) any later version.
`

func apacheText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestClassify(t *testing.T) {
	apache := apacheText(t)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"mit", mitText, []string{"MIT"}},
		{"bsd-3", "Copyright 2009 The Go Authors.\n\n" + bsdConditions + bsdEndorsement + bsdDisclaimerText, []string{"BSD-3-Clause"}},
		{"bsd-2", "Copyright 2015 Someone.\n\n" + bsdConditions + bsdDisclaimerText, []string{"BSD-2-Clause"}},
		// The endorsement clause of a second text must not make the
		// first one BSD-3-Clause.
		{"bsd-2 then bsd-3", bsdConditions + bsdDisclaimerText + "\n---\n" + bsdConditions + bsdEndorsement + bsdDisclaimerText, []string{"BSD-2-Clause", "BSD-3-Clause"}},
		{"isc", iscText, []string{"ISC"}},
		{"isc, old wording", strings.Replace(iscText, "and/or distribute", "and distribute", 1), []string{"ISC"}},
		{"0bsd", strings.Replace(iscText, ", provided that the above copyright notice\nand this permission notice appear in all copies", "", 1), []string{"0BSD"}},
		{"apache", apache, []string{"Apache-2.0"}},
		{"apache, rewrapped", strings.Join(strings.Fields(apache), "\n"), []string{"Apache-2.0"}},
		{"apache, the short notice", "Copyright 2011-2016 Canonical Ltd.\n\nLicensed under the Apache License, Version 2.0 (the \"License\");\nyou may not use this file except in compliance with the License.\n", []string{"Apache-2.0"}},
		{"wtfpl", wtfplText, []string{"WTFPL"}},
		{"cc-by-nd (a logo's licence)", "Attribution-NoDerivatives 4.0 International\n\nCreative Commons Corporation (\"Creative Commons\") is not a law firm\n", []string{"CC-BY-ND-4.0"}},
		{"mpl names the gnu licences as secondary", "Mozilla Public License Version 2.0\n\"Secondary License\"\n    means either the GNU General Public License, Version 2.0, the GNU Lesser\n    General Public License, Version 2.1, the GNU Affero General Public\n    License, Version 3.0, or any later versions of those licenses.\n", []string{"MPL-2.0"}},
		{"gpl", gplText, []string{"GPL"}},
		{"mit with a gpl part", mitText + "\n---\n" + gplText, []string{"GPL", "MIT"}},
		{"mit, good not evil", mitText + "\nThe Software shall be used for Good, not Evil.\n", []string{"JSON", "MIT"}},
		{"bsd-4", bsdConditions + "   * All advertising materials mentioning features or use of this software\n     must display the following acknowledgement\n" + bsdDisclaimerText, []string{"BSD-2-Clause", "BSD-4-Clause"}},
		{"unknown", "All rights reserved. You may not copy this software.", nil},
	} {
		if got := classify(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsStandardApache(t *testing.T) {
	apache := apacheText(t)
	terms, _, _ := strings.Cut(apache, "END OF TERMS AND CONDITIONS")
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"as published", apache, true},
		{"without the appendix", terms + "END OF TERMS AND CONDITIONS\n", true},
		{"older appendix placeholder", strings.Replace(strings.Replace(apache, "[yyyy] [name of copyright owner]", "{}", 1), `"[]"`, `"{}"`, 1), true},
		{"a clause changed", strings.Replace(apache, "royalty-free, irrevocable", "royalty-free, revocable", 1), false},
		{"an extra condition", strings.Replace(apache, "END OF TERMS AND CONDITIONS", "10. You may not use the Work in production.\n\nEND OF TERMS AND CONDITIONS", 1), false},
	} {
		if tc.name == "a clause changed" && tc.text == apache {
			t.Fatal("the replacement did not apply: the test would prove nothing")
		}
		f := licenseFile{name: "LICENSE", text: tc.text, ids: classify(tc.text)}
		if got := isStandardApache(f, []byte(apache)); got != tc.want {
			t.Errorf("%s: isStandardApache = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestWTFPLOnlyForD3Flextree: the WTFPL is accepted for d3-flextree and for
// no other package.
func TestWTFPLOnlyForD3Flextree(t *testing.T) {
	f := []licenseFile{{name: "LICENSE", text: wtfplText, ids: classify(wtfplText)}}
	ok := component{eco: "npm", name: "d3-flextree", version: "2.1.2", declared: "WTFPL", files: f}
	if ps := ok.problems(nil); len(ps) != 0 {
		t.Errorf("d3-flextree: %v", ps)
	}
	other := component{eco: "npm", name: "left-pad", version: "1.0.0", declared: "WTFPL", files: f}
	ps := other.problems(nil)
	if len(ps) != 2 || !strings.Contains(ps[0], "left-pad 1.0.0 (npm): licence WTFPL") || !strings.Contains(ps[1], `declares licence "WTFPL"`) {
		t.Errorf("left-pad: problems %q, want the licence text and the declared licence refused", ps)
	}
}

// writeFiles writes files (path relative to dir: content).
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRun runs the whole check on a small repository of the same shape as
// this one (real `go list`, real files): it writes NOTICE when every licence
// is allowed, then fails on a stale NOTICE, on an altered LICENSE, on a new
// dependency under a licence not allowed (naming it), on a transitive
// dependency without a licence, and on a missing node_modules.
func TestRun(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"LICENSE":                                              apacheText(t),
		"go.mod":                                               "module example.com/repo\n\ngo 1.26\n",
		"server/cmd/corkboard/main.go":                         "package main\n\nfunc main() {}\n",
		"webclient/wasm/main.go":                               "package main\n\nfunc main() {}\n",
		"webclient/package.json":                               `{"name": "web", "dependencies": {"a": "^1.0.0"}, "devDependencies": {"dev-only": "^1.0.0"}}`,
		"webclient/node_modules/a/package.json":                `{"name": "a", "version": "1.0.0", "license": "MIT", "dependencies": {"b": "^2.0.0"}}`,
		"webclient/node_modules/a/LICENSE":                     mitText,
		"webclient/node_modules/a/NOTICE":                      "a\nCopyright 2020 The A Authors\n",
		"webclient/node_modules/a/node_modules/b/package.json": `{"name": "b", "version": "2.0.0", "license": "ISC"}`,
		"webclient/node_modules/a/node_modules/b/LICENSE":      iscText,
		"webclient/node_modules/dev-only/package.json":         `{"name": "dev-only", "version": "1.0.0", "license": "GPL-3.0"}`,
		"webclient/node_modules/dev-only/COPYING":              gplText,
		"webclient/node_modules/vite/package.json":             `{"name": "vite", "version": "7.0.0", "license": "MIT"}`,
		"webclient/node_modules/vite/LICENSE.md":               "# Vite core license\n" + mitText + "\n# Licenses of bundled dependencies\n" + gplText,
	})
	check := func() []string {
		t.Helper()
		ps, err := run(root, false)
		if err != nil {
			t.Fatal(err)
		}
		return ps
	}
	expect := func(what string, ps []string, want string) {
		t.Helper()
		for _, p := range ps {
			if strings.Contains(p, want) {
				return
			}
		}
		t.Errorf("%s: problems %q, want one containing %q", what, ps, want)
	}

	if ps, err := run(root, true); err != nil || len(ps) != 0 {
		t.Fatalf("write: %v %v", ps, err)
	}
	notice, err := os.ReadFile(filepath.Join(root, "NOTICE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a 1.0.0\n    LICENSE: MIT [a/LICENSE]", "b 2.0.0\n    LICENSE: ISC [b/LICENSE]", "Go standard library and runtime", "vite 7.0.0", "Copyright (c) 2021 Someone", "== a 1.0.0: NOTICE\n\na\nCopyright 2020 The A Authors\n"} {
		if !strings.Contains(string(notice), want) {
			t.Errorf("NOTICE lacks %q", want)
		}
	}
	for _, unwanted := range []string{"dev-only", "GNU General Public License"} {
		if strings.Contains(string(notice), unwanted) {
			t.Errorf("NOTICE holds %q, which is not in the bundle", unwanted)
		}
	}
	if ps := check(); len(ps) != 0 {
		t.Fatalf("check after write: %q", ps)
	}

	// A licence text changes in an update: NOTICE is stale.
	writeFiles(t, root, map[string]string{"webclient/node_modules/a/LICENSE": strings.Replace(mitText, "2021 Someone", "2022 Someone Else", 1)})
	expect("changed licence text", check(), "NOTICE is not up to date")

	// LICENSE is not the Apache License as published.
	writeFiles(t, root, map[string]string{"LICENSE": apacheText(t) + "\nExcept for commercial use.\n"})
	expect("altered LICENSE", check(), "LICENSE is not the Apache License 2.0")
	writeFiles(t, root, map[string]string{"LICENSE": apacheText(t)})

	// A new transitive dependency under the GPL: the check names it, and
	// -write refuses to write NOTICE.
	writeFiles(t, root, map[string]string{
		"webclient/node_modules/a/node_modules/b/package.json": `{"name": "b", "version": "2.0.0", "license": "ISC", "dependencies": {"c": "1"}}`,
		"webclient/node_modules/c/package.json":                `{"name": "c", "version": "1.0.0", "license": "GPL-3.0-or-later"}`,
		"webclient/node_modules/c/COPYING":                     gplText,
	})
	ps := check()
	expect("gpl dependency", ps, "c 1.0.0 (npm): licence GPL (COPYING) is not allowed")
	expect("gpl dependency", ps, `c 1.0.0 (npm): package.json declares licence "GPL-3.0-or-later", which is not allowed`)
	before, _ := os.ReadFile(filepath.Join(root, "NOTICE"))
	if ps, err := run(root, true); err != nil || len(ps) == 0 {
		t.Errorf("write with a GPL dependency: %v %v, want refused", ps, err)
	}
	if after, _ := os.ReadFile(filepath.Join(root, "NOTICE")); string(after) != string(before) {
		t.Error("write with a GPL dependency changed NOTICE")
	}

	// A NOTICE file that puts the package under the GPL.
	writeFiles(t, root, map[string]string{"webclient/node_modules/c/NOTICE": gplText})
	expect("gpl in a notice", check(), "c 1.0.0 (npm): licence GPL (NOTICE) is not allowed")
	if err := os.Remove(filepath.Join(root, "webclient/node_modules/c/NOTICE")); err != nil {
		t.Fatal(err)
	}

	// A dependency without a licence file.
	if err := os.Remove(filepath.Join(root, "webclient/node_modules/c/COPYING")); err != nil {
		t.Fatal(err)
	}
	expect("no licence file", check(), "c 1.0.0 (npm): no licence file found")

	// A dependency that is not installed.
	if err := os.RemoveAll(filepath.Join(root, "webclient/node_modules/c")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(root, false); err == nil || !strings.Contains(err.Error(), "npm package c (needed by") {
		t.Errorf("missing package: err %v", err)
	}

	// No node_modules at all: the error says what to do.
	if err := os.RemoveAll(filepath.Join(root, "webclient/node_modules")); err != nil {
		t.Fatal(err)
	}
	if _, err := run(root, false); err == nil || !strings.Contains(err.Error(), "run `npm install` in webclient") {
		t.Errorf("no node_modules: err %v", err)
	}
}
