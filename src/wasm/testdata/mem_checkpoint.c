// A checkpoint store plugin (docs/plugins.md) that keeps positions in its own
// memory: `load` gets a slot name and outputs {"lsn":N} (or nothing: no
// checkpoint); `save` gets {"slot_name":"…","lsn":N}. The memory dies with
// the process; the store that survives a kill -9 (an HTTP key-value service)
// is the `plugin init --type checkpoint` template
// (src/wasm/pdk/templates/checkpoint.c).
#include "pgcdc_pdk.h"

#define MAX_SLOTS 16
static struct {
  char name[128];
  unsigned long long lsn;
} slots[MAX_SLOTS];
static int nslots;

static int find(const char* name, int create) {
  for (int i = 0; i < nslots; i++) {
    if (strcmp(slots[i].name, name) == 0) return i;
  }
  if (!create || nslots == MAX_SLOTS || strlen(name) >= sizeof slots[0].name) return -1;
  strcpy(slots[nslots].name, name);
  slots[nslots].lsn = 0;
  return nslots++;
}

__attribute__((export_name("load"))) int load(void) {
  size_t n;
  char* slot = read_input(&n);
  int i = find(slot, 0);
  free(slot);
  if (i >= 0 && slots[i].lsn > 0) {
    char out[48];
    output(out, (size_t)snprintf(out, sizeof out, "{\"lsn\":%llu}", slots[i].lsn));
  }
  return 0;
}

__attribute__((export_name("save"))) int save(void) {
  size_t n;
  char* in = read_input(&n);
  const char* name = strstr(in, "\"slot_name\":\"");
  const char* lsn = strstr(in, "\"lsn\":");
  if (!name || !lsn) {
    output_str("save: expected slot_name and lsn");
    free(in);
    return 0;
  }
  char slot[128];
  name += strlen("\"slot_name\":\"");
  size_t k = strcspn(name, "\"");
  if (k >= sizeof slot) k = sizeof slot - 1;
  memcpy(slot, name, k);
  slot[k] = 0;
  int i = find(slot, 1);
  if (i < 0) {
    output_str("save: too many slots");
  } else {
    slots[i].lsn = strtoull(lsn + strlen("\"lsn\":"), NULL, 10);
  }
  free(in);
  return 0;
}
