// A checkpoint store plugin (docs/plugins.md): `load` gets a slot name and
// outputs {"lsn":N} (or nothing: no checkpoint); `save` gets
// {"slot_name":"…","lsn":N}. Positions live in the plugin's memory, which
// dies with the process; with the config "url" they are also written to
// (PUT <url>/<slot>, body {"lsn":N}) and read back from (GET) an HTTP store,
// which is what survives a kill -9.
#include "pdk.h"

#define MAX_SLOTS 16
static struct {
  char name[128];
  unsigned long long lsn;
} slots[MAX_SLOTS];
static int nslots;
static char* url;

__attribute__((export_name("init"))) int init(void) {
  url = config_string("url");
  return 0;
}

static int find(const char* name, int create) {
  for (int i = 0; i < nslots; i++) {
    if (strcmp(slots[i].name, name) == 0) return i;
  }
  if (!create || nslots == MAX_SLOTS || strlen(name) >= sizeof slots[0].name) return -1;
  strcpy(slots[nslots].name, name);
  slots[nslots].lsn = 0;
  return nslots++;
}

static char* slot_url(const char* slot) {
  buf u = {0};
  buf_str(&u, url);
  buf_str(&u, "/");
  buf_str(&u, slot);
  return u.p;
}

// The number after "lsn" in `s` (escaped or not), 0 when none.
static unsigned long long lsn_in(const char* s) {
  const char* p = strstr(s, "lsn");
  if (!p) return 0;
  while (*p && (*p < '0' || *p > '9')) p++;
  return strtoull(p, NULL, 10);
}

__attribute__((export_name("load"))) int load(void) {
  size_t n;
  char* slot = read_input(&n);
  unsigned long long lsn = 0;
  if (url) {
    char* u = slot_url(slot);
    char* resp;
    int status = http("GET", u, "", 0, &resp);
    free(u);
    if (status == 200) {
      lsn = lsn_in(strstr(resp, "\"body\""));
    } else if (status != 404) {
      output(resp, strlen(resp));
      free(resp);
      free(slot);
      return 0;
    }
    free(resp);
  } else {
    int i = find(slot, 0);
    if (i >= 0) lsn = slots[i].lsn;
  }
  free(slot);
  if (lsn > 0) {
    char out[64];
    int len = snprintf(out, sizeof out, "{\"lsn\":%llu}", lsn);
    output(out, (size_t)len);
  }
  return 0;
}

__attribute__((export_name("save"))) int save(void) {
  size_t n;
  char* in = read_input(&n);
  const char* name = strstr(in, "\"slot_name\":\"");
  if (!name) {
    output("save: no slot_name", strlen("save: no slot_name"));
    free(in);
    return 0;
  }
  name += 13;
  char slot[128];
  size_t k = 0;
  while (name[k] && name[k] != '"' && k < sizeof slot - 1) slot[k] = name[k], k++;
  slot[k] = 0;
  unsigned long long lsn = lsn_in(strstr(in, "\"lsn\""));
  free(in);
  if (url) {
    char body[64];
    int len = snprintf(body, sizeof body, "{\"lsn\":%llu}", lsn);
    char* u = slot_url(slot);
    char* resp;
    int status = http("PUT", u, body, (size_t)len, &resp);
    free(u);
    if (status < 200 || status > 299) {
      output(resp, strlen(resp));
      free(resp);
      return 0;
    }
    free(resp);
  }
  int i = find(slot, 1);
  if (i < 0) {
    output("save: too many slots", strlen("save: too many slots"));
    return 0;
  }
  slots[i].lsn = lsn;
  return 0;
}

__attribute__((export_name("close"))) int close_store(void) { return 0; }
