// Package docs embeds the OpenAPI description of the REST API
// (openapi.yaml, the document docs/API.md is the prose of), which a node
// serves as JSON at /v1/openapi.json.
package docs

import _ "embed"

// OpenAPI is openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
