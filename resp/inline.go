package resp

import "bytes"

// MaxInline is the longest inline command line, as in Redis
// (PROTO_INLINE_MAX_SIZE): a longer one is refused with "too big inline
// request" and the connection closed.
const MaxInline = 64 << 10

var errTooBigInline = ErrMalformed{Msg: "too big inline request"}
var errUnbalancedQuotes = ErrMalformed{Msg: "unbalanced quotes in request"}

// splitInline splits an inline command line (without its CRLF) into
// arguments by Redis' rules (sdssplitargs): words separated by whitespace;
// "double quotes" with \n, \r, \t, \b, \a, \xHH and \<any> escapes;
// 'single quotes' with only \' escaped; a closing quote must end the word.
// Every argument is a slice of one buffer no longer than the line, so the
// cost is linear in the line whatever its number of words. A NUL ends the
// line. It returns no arguments for a line of whitespace.
func splitInline(line []byte) ([][]byte, error) {
	if z := bytes.IndexByte(line, 0); z >= 0 {
		// sdssplitargs reads the line as a C string. (Redis itself finds
		// the line's end with strchr, so it waits for more after a NUL; here
		// the line ends at its '\n' as any other.)
		line = line[:z]
	}
	buf := make([]byte, 0, len(line))
	var args [][]byte
	i, n := 0, len(line)
	for {
		for i < n && isSpace(line[i]) {
			i++
		}
		if i >= n {
			return args, nil
		}
		start := len(buf)
		quote := byte(0) // the quote the word is inside, if any
		for done := false; !done; i++ {
			switch {
			case i == n:
				if quote != 0 {
					return nil, errUnbalancedQuotes
				}
				done = true
			case quote != 0 && line[i] == quote:
				if i+1 < n && !isSpace(line[i+1]) {
					return nil, errUnbalancedQuotes
				}
				done = true
			case quote == '"' && line[i] == '\\' && i+3 < n && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
				buf = append(buf, unhex(line[i+2])<<4|unhex(line[i+3]))
				i += 3
			case quote == '"' && line[i] == '\\' && i+1 < n:
				i++
				buf = append(buf, unescape(line[i]))
			case quote == '\'' && line[i] == '\\' && i+1 < n && line[i+1] == '\'':
				i++
				buf = append(buf, '\'')
			case quote != 0:
				buf = append(buf, line[i])
			default:
				switch line[i] {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"', '\'':
					quote = line[i]
				default:
					buf = append(buf, line[i])
				}
			}
		}
		args = append(args, buf[start:len(buf):len(buf)])
	}
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// unescape is the byte that a backslash before c stands for inside double
// quotes.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}
