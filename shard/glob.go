package shard

import "unicode/utf8"

// globMatch reports whether key matches pattern the way SC.SCAN's pattern
// has always matched (github.com/tidwall/match): '*' matches any sequence,
// '?' any one character, '\' makes the next character literal. It runs in
// O(len(key)×len(pattern)): on a mismatch only the last '*' takes one more
// character, where a recursive matcher tries every split between every star
// and a pattern such as "*a*a*a*a*a*a*b*" keeps a shard busy for seconds per
// key.
func globMatch(key, pattern string) bool {
	k, p := 0, 0
	star, starK := -1, 0 // the last '*' seen, and where its match ends
	for k < len(key) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				star, starK = p, k
				p++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(key[k:])
				k, p = k+n, p+1
				continue
			default:
				lit := p
				if pattern[p] == '\\' {
					lit++
				}
				if lit < len(pattern) {
					pc, pn := utf8.DecodeRuneInString(pattern[lit:])
					kc, kn := utf8.DecodeRuneInString(key[k:])
					if pc == kc {
						k, p = k+kn, lit+pn
						continue
					}
				}
			}
		}
		if star < 0 {
			return false
		}
		_, n := utf8.DecodeRuneInString(key[starK:])
		starK += n
		k, p = starK, star+1
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
