#ifndef QUIVER_CCURL_H
#define QUIVER_CCURL_H
// Typed, non-variadic wrappers over libcurl's variadic setopt/getinfo: Swift cannot call C variadics.
#include <curl/curl.h>

CURLcode quiver_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode quiver_curl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode quiver_curl_setopt_ptr(CURL *handle, CURLoption option, const void *value);
CURLcode quiver_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode quiver_curl_setopt_write(CURL *handle, curl_write_callback callback);
CURLcode quiver_curl_setopt_read(CURL *handle, curl_read_callback callback);
CURLcode quiver_curl_setopt_header(CURL *handle, curl_write_callback callback);
CURLcode quiver_curl_setopt_xferinfo(CURL *handle, curl_xferinfo_callback callback);
CURLcode quiver_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode quiver_curl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode quiver_curl_getinfo_double(CURL *handle, CURLINFO info, double *value);

#endif
