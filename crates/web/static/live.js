// Live progress on a submission page whose run is queued or running: the page listens to
// /runs/ID/events (server-sent events) and updates the run's state and the job rows in place;
// when the run ends it reloads once, for the verdict and everything the run recorded.
// Without JavaScript the page reloads itself every 5 s instead (a <noscript> refresh).
// Values are only ever written with textContent: nothing from the server becomes markup.
(function () {
  var script = document.currentScript;
  var url = script && script.getAttribute("data-events");
  if (!url || !window.EventSource) {
    return;
  }

  function setState(span, word) {
    var lower = String(word).toLowerCase();
    span.className = "st st-" + lower;
    span.textContent = word;
  }

  function cell(text) {
    var td = document.createElement("td");
    td.textContent = text || "";
    return td;
  }

  function addRow(job) {
    var table = document.querySelector("table.jobs tbody");
    if (!table) {
      return null;
    }
    var tr = document.createElement("tr");
    tr.id = "job-" + job.id;
    tr.appendChild(cell(job.stage + " " + job.name));
    var status = document.createElement("td");
    status.appendChild(document.createElement("span"));
    tr.appendChild(status);
    tr.appendChild(cell(""));
    tr.appendChild(cell(""));
    table.appendChild(tr);
    return tr;
  }

  function update(data) {
    var head = document.getElementById("run-state");
    if (head) {
      setState(head, data.submission_state);
    }
    data.jobs.forEach(function (job) {
      var row = document.getElementById("job-" + job.id) || addRow(job);
      if (!row || row.cells.length < 4) {
        return;
      }
      var span = row.cells[1].querySelector("span");
      if (span) {
        setState(span, job.label);
      }
      row.cells[2].textContent = job.duration || "";
      if (job.log_url && !row.cells[3].querySelector("a")) {
        var a = document.createElement("a");
        a.href = job.log_url;
        a.textContent = "view";
        row.cells[3].textContent = "";
        row.cells[3].appendChild(a);
      }
    });
    document.body.setAttribute("data-live", data.state);
  }

  function start() {
    var source = new EventSource(url);
    source.addEventListener("jobs", function (e) {
      try {
        update(JSON.parse(e.data));
      } catch (err) {
        source.close();
      }
    });
    source.addEventListener("end", function () {
      source.close();
      window.location.reload();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
