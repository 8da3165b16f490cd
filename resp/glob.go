package resp

// Match reports whether s matches the glob pattern the way Redis' KEYS and
// SCAN MATCH do (stringmatchlen in Redis' util.c): '*' any run of bytes,
// '?' any one byte, '[abc]', '[^abc]' and '[a-z]' one byte of a class, '\'
// the next byte as it is (inside a class too). Case matters. Like Redis, it
// gives up on a pattern nested more than 1000 stars deep, and stops trying
// longer matches for a star once the rest of the pattern has matched
// nowhere, so a pattern with many stars costs no more than a few passes.
func Match(s, pattern []byte) bool {
	skipLonger := false
	return globMatch(pattern, s, &skipLonger, 0)
}

func globMatch(p, s []byte, skipLonger *bool, nesting int) bool {
	if nesting > 1000 {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if globMatch(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			// The rest of the pattern matches nowhere in s: a longer
			// match for an earlier star cannot help either.
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			p = p[1:]
			not := len(p) > 0 && p[0] == '^'
			if not {
				p = p[1:]
			}
			in := false
			for len(p) > 0 && p[0] != ']' { // an unterminated class ends with the pattern
				switch {
				case p[0] == '\\' && len(p) >= 2:
					p = p[1:]
					in = in || p[0] == s[0]
				case len(p) >= 3 && p[1] == '-':
					lo, hi := p[0], p[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					in = in || (lo <= s[0] && s[0] <= hi)
					p = p[2:]
				default:
					in = in || p[0] == s[0]
				}
				p = p[1:]
			}
			if in == not {
				return false
			}
			s = s[1:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		if len(p) > 0 { // the byte just matched, or the class's ']'
			p = p[1:]
		}
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}
