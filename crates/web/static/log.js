// A log page shows a range of lines: a link to #L123 outside that range (as mails and
// Patchwork link them) is taken to the range that holds the line. The page works without it.
(function () {
  function follow() {
    var m = /^#L([0-9]+)$/.exec(window.location.hash);
    if (!m || document.getElementById("L" + m[1])) {
      return;
    }
    var url = new URL(window.location.href);
    url.searchParams.delete("from");
    url.searchParams.delete("to");
    url.searchParams.set("line", m[1]);
    window.location.replace(url.pathname + url.search + url.hash);
  }
  window.addEventListener("hashchange", follow);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", follow);
  } else {
    follow();
  }
})();
