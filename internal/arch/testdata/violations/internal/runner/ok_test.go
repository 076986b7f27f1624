// Tests may use any library.
package runner

import _ "github.com/moby/moby/client"
