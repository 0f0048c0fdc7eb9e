/* mock_llm_server.h — a scripted LLM HTTP/1.1 server on the libuv loop, for tests and benches.
 *
 * Listens on 127.0.0.1 (port 0 = ephemeral). Speaks the OpenAI-compatible chat completions
 * (POST …/chat/completions) and Anthropic messages (POST …/messages) wire formats, plain or
 * streamed (when the request body says "stream": true; SSE written in small chunks at odd
 * byte offsets, chunked transfer encoding, with ':' keep-alive comments). Responses come from
 * a queue of specs (JSON objects) replayed in order:
 *
 *   "text": "...",  "tool_calls": [{"id"?, "name", "arguments": {...}}],
 *   "finish": "stop|tool_calls|length" (neutral, mapped per format) or a raw wire value,
 *   "usage": {"input_tokens", "output_tokens"}
 *   faults: "status": 400|401|429|500|503…, "error_message": "...", "retry_after": seconds,
 *           "delay_ms": N (slow first byte), "fault": "drop" (close mid-body) | "truncate"
 *           (truncated JSON / stream ends without its end marker) | "content_type" (200 with
 *           text/html) | "stream_error" (error event mid-stream), "echo_auth": true (the error
 *           message quotes the request's credentials header, like some real servers do),
 *   wire quirks: "omit_ids": true, "args_object": true (OpenAI arguments as an object),
 *           "chunk": N (fixed stream chunk size), "gap_ms": N (between chunks, default 1),
 *           "crlf": true (SSE lines end in \r\n), "ignore_stream": true (answer a streaming
 *           request with plain JSON, as some servers do).
 * With the queue empty the default spec is used if set, else HTTP 500 "mock: no scripted
 * response". A GET of …/models lists one model ("mock-model") without using the queue. A
 * connection that does not start with an HTTP method (e.g. a TLS handshake) is closed.
 * Every request's response_format / tool_choice is checked against the real APIs' shape (OpenAI: json_object with
 * the word "json" in the messages, json_schema {name, schema, strict?} and under strict every object closed with all
 * properties required and no length keywords; tool_choice auto|none|required|{function} only with tools;
 * Anthropic: no response_format, tool_choice {type auto|any|tool|none}, a "tool" one naming a tool): a wrong shape
 * is answered with HTTP 400 and the API's kind of message, without using the queue.
 */
#ifndef DAWBRIDGE_MOCK_LLM_SERVER_H
#define DAWBRIDGE_MOCK_LLM_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

typedef struct mock_llm mock_llm_t;
typedef void (*mock_llm_close_cb)(void *data);

/* NULL with err on failure. */
mock_llm_t *mock_llm_new(uv_loop_t *loop, int port, char *err, size_t errlen);
int mock_llm_port(const mock_llm_t *m);
/* Append a response spec (steals spec). Returns 0 or -1. */
int mock_llm_push(mock_llm_t *m, json_t *spec);
/* Push every spec of {"responses": [...]} (or a bare array) from a file. 0 or -1 with err. */
int mock_llm_load(mock_llm_t *m, const char *path, char *err, size_t errlen);
/* Spec used when the queue is empty (steals; NULL clears). */
void mock_llm_set_default(mock_llm_t *m, json_t *spec);
size_t mock_llm_pending(const mock_llm_t *m);
/* Every request so far: [{"method","path","headers":{lower-case name: value},"body": json|null,
 * "raw": text}] — borrowed. */
json_t *mock_llm_requests(mock_llm_t *m);
size_t mock_llm_connections(const mock_llm_t *m); /* accepted so far */
/* A server that does not know some fields: a request whose body has one of these top-level keys (fields: array
 * of strings, stolen; NULL clears) gets HTTP 400 "Unrecognized request argument supplied: <key>" in the provider's
 * error format, without using the queue. mock_llm_rejected() counts those answers. */
void mock_llm_reject_fields(mock_llm_t *m, json_t *fields);
size_t mock_llm_rejected(const mock_llm_t *m);
/* Close the listener and every connection; cb after all handles are closed and m is freed. */
void mock_llm_close(mock_llm_t *m, mock_llm_close_cb cb, void *data);

#endif
