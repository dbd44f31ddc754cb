package main

import (
	"regexp"
	"sort"
	"strings"
)

// classify returns the SPDX identifiers of the licences whose text appears
// in text, sorted; nil when it recognises none. A file may hold several
// (github.com/klauspost/compress's LICENSE is BSD-3-Clause, Apache-2.0 and
// MIT for different directories).
//
// It works on the text lowercased, with everything but letters and digits
// turned into single spaces, so line breaks, punctuation and indentation do
// not matter. A licence is recognised by the clauses that make it what it
// is (the grant, and the conditions that tell apart its variants, such as
// BSD's endorsement clause), not by a whole-text template: copyright lines,
// names in the BSD clauses and small rewordings vary from package to
// package. A text that names a licence this project does not accept (GPL,
// AGPL, SSPL, ...) gets that licence's identifier even next to an accepted
// one, so the check fails on it.
func classify(text string) []string {
	t := normalize(text)
	ids := map[string]bool{}
	has := func(phrase string) bool { return strings.Contains(t, normalize(phrase)) }

	if has("Apache License Version 2.0") && has("TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION") ||
		has(`Licensed under the Apache License, Version 2.0 (the "License")`) { // the short notice that points to the text
		ids["Apache-2.0"] = true
	}
	if has("Permission is hereby granted, free of charge, to any person obtaining a copy") &&
		has("The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software") {
		ids["MIT"] = true
	}
	if iscGrant.MatchString(t) {
		if has("provided that the above copyright notice and this permission notice appear in all copies") {
			ids["ISC"] = true
		} else {
			ids["0BSD"] = true
		}
	}
	for _, id := range bsd(t) {
		ids[id] = true
	}
	mpl := has("Mozilla Public License Version 2.0")
	if mpl {
		ids["MPL-2.0"] = true
	}
	if has("CC0 1.0 Universal") && has("Statement of Purpose") {
		ids["CC0-1.0"] = true
	}
	if has("DO WHAT THE FUCK YOU WANT TO PUBLIC LICENSE") && has("You just DO WHAT THE FUCK YOU WANT TO") {
		ids["WTFPL"] = true
	}
	if has("Attribution-NoDerivatives 4.0 International") && has("Creative Commons") {
		ids["CC-BY-ND-4.0"] = true
	}
	if has("UNICODE, INC. LICENSE AGREEMENT - DATA FILES AND SOFTWARE") {
		ids["Unicode-DFS-2016"] = true
	}

	// Licences not accepted. MPL-2.0 names the GNU licences in its
	// definition of "Secondary License": that sentence is not a grant.
	deny := t
	if mpl {
		deny = strings.ReplaceAll(deny, normalize(`means either the GNU General Public License, Version 2.0, the GNU Lesser General Public License, Version 2.1, the GNU Affero General Public License, Version 3.0, or any later versions of those licenses`), "")
	}
	for _, d := range denied {
		if strings.Contains(deny, normalize(d.phrase)) {
			ids[d.id] = true
		}
	}

	var out []string
	for id := range ids {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// iscGrant is ISC's (and 0BSD's) grant, in its two wordings ("and/or
// distribute", and the older "and distribute").
var iscGrant = regexp.MustCompile(`permission to use copy modify and (or )?distribute this software for any purpose with or without fee is hereby granted`)

// denied are phrases of licences the project does not accept, so that a
// text holding one is never classified as an accepted licence alone.
var denied = []struct{ phrase, id string }{
	{"GNU Affero General Public License", "AGPL"},
	{"GNU Lesser General Public License", "LGPL"},
	{"GNU Library General Public License", "LGPL"},
	{"GNU General Public License", "GPL"},
	{"Server Side Public License", "SSPL-1.0"},
	{"Business Source License", "BUSL-1.1"},
	{"Commons Clause", "Commons-Clause"},
	{"Elastic License", "Elastic-2.0"},
	{"The Software shall be used for Good, not Evil", "JSON"},
	{"advertising materials mentioning features or use of this software", "BSD-4-Clause"},
	{"Creative Commons Attribution-NonCommercial", "CC-BY-NC"},
	{"Creative Commons Attribution-ShareAlike", "CC-BY-SA"},
	{"Eclipse Public License", "EPL"},
	{"Common Development and Distribution License", "CDDL"},
}

// bsdGrant opens every BSD licence; bsdDisclaimer opens its warranty
// disclaimer, which follows the conditions.
var (
	bsdGrant      = normalize("Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met")
	bsdDisclaimer = regexp.MustCompile(`this software is provided by`)
	bsdEndorse    = regexp.MustCompile(`(may|shall) (not )?be used to endorse or promote products derived from`)
)

// bsd returns the BSD variants in t: for each grant, BSD-3-Clause when its
// conditions (the text up to the disclaimer) forbid using the authors'
// names to endorse derived products, BSD-2-Clause otherwise.
func bsd(t string) []string {
	var ids []string
	for {
		i := strings.Index(t, bsdGrant)
		if i < 0 {
			return ids
		}
		t = t[i+len(bsdGrant):]
		conds := t
		if loc := bsdDisclaimer.FindStringIndex(t); loc != nil {
			conds = t[:loc[0]]
		}
		if bsdEndorse.MatchString(conds) {
			ids = append(ids, "BSD-3-Clause")
		} else {
			ids = append(ids, "BSD-2-Clause")
		}
	}
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)

// normalize lowercases s and turns every run of other characters than
// letters and digits into one space.
func normalize(s string) string {
	return strings.TrimSpace(nonAlnum.ReplaceAllString(strings.ToLower(s), " "))
}
