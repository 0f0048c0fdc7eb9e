/* rmtree: removes a directory and everything in it (the temporary directories the demo and the embedded mock
 * make). Header only. Symbolic links are removed, never followed; a directory is entered only when lstat says it
 * is one. Best effort: returns 0 when dir is gone, -1 otherwise (errno from the last failure). */
#ifndef DAWBRIDGE_RMTREE_H
#define DAWBRIDGE_RMTREE_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int rmtree(const char *dir) {
  DIR *dd = opendir(dir);
  if (dd) {
    struct dirent *e;
    char p[4096];
    while ((e = readdir(dd)) != NULL) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p) continue;
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
        rmtree(p);
      else
        unlink(p);
    }
    closedir(dd);
  }
  return rmdir(dir);
}

#endif
