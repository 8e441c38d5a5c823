(function () {
  "use strict";
  // Data arrives only as JSON (id="board-data") and escaped attributes; it is never run as code.
  var DIMS = ["mode", "dataset", "metric", "attack"];
  var board = null;

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (!numeric) { return raw === null ? "" : raw; }
    return raw === null || raw === "" ? NaN : parseFloat(raw);
  }
  function sortTable(table, key, desc) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    var index = -1;
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].getAttribute("data-key") === key) { index = i; }
      headers[i].removeAttribute("aria-sort");
    }
    if (index < 0) { return false; }
    var numeric = headers[index].getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (numeric) {
        var xn = isNaN(x), yn = isNaN(y);
        if (xn || yn) { return xn === yn ? 0 : (xn ? 1 : -1); }
        return desc ? y - x : x - y;
      }
      var order = String(x).localeCompare(String(y));
      return desc ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers[index].setAttribute("aria-sort", desc ? "descending" : "ascending");
    table.setAttribute("data-sort-key", key);
    table.setAttribute("data-sort-dir", desc ? "desc" : "asc");
    return true;
  }
  function parseHash() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) { return; }
      var pieces = part.split("=");
      try {
        params[decodeURIComponent(pieces[0])] = decodeURIComponent(pieces.slice(1).join("="));
      } catch (error) { /* a malformed hash part is ignored */ }
    });
    return params;
  }

  // ---------------------------------------------------------------- the ranked leaderboard
  function selection() {
    var state = {};
    DIMS.concat(["rank"]).forEach(function (dim) {
      var select = document.getElementById("filter-" + dim);
      state[dim] = select ? select.value : "";
    });
    return state;
  }
  function column(key) {
    for (var i = 0; i < board.columns.length; i++) { if (board.columns[i].key === key) { return board.columns[i]; } }
    return null;
  }
  function fmt(value, digits, scale) {
    if (typeof value !== "number" || isNaN(value)) { return "\u2014"; }
    if (!isFinite(value)) { return value > 0 ? "\u221e" : "-\u221e"; }
    return (value * scale).toFixed(digits);
  }
  function interval(iv, digits) {
    if (iv[0] === null) { return "\u2014"; }
    var text = fmt(iv[0], digits, 1);
    return iv[1] === null || iv[2] === null ? text : text + " (" + fmt(iv[1], digits, 1) + "\u2013" + fmt(iv[2], digits, 1) + ")";
  }
  function compute(state) {
    var wanted = DIMS.map(function (dim) {
      return state[dim] === "" ? null : board.options[dim].indexOf(state[dim]);
    });
    var n = board.columns.length, sums = {}, counts = {}, order = [];
    board.cells.forEach(function (cell) {
      for (var k = 0; k < DIMS.length; k++) {
        if (wanted[k] !== null && wanted[k] !== cell[k + 1]) { return; }
      }
      var d = cell[0];
      if (!(d in sums)) { sums[d] = new Array(n).fill(0); counts[d] = new Array(n).fill(0); order.push(d); }
      var same = !Array.isArray(cell[6]);  // one count for every column
      for (var j = 0; j < n; j++) { sums[d][j] += cell[5][j]; counts[d][j] += same ? cell[6] : cell[6][j]; }
    });
    order.sort(function (a, b) { return a - b; });
    var rank = column(state.rank) || column(board.rank_by);
    var rows = order.map(function (d) {
      var values = {};
      board.columns.forEach(function (c, j) {
        values[c.key] = c.how === "sum" ? sums[d][j] : (counts[d][j] ? sums[d][j] / counts[d][j] : NaN);
      });
      var name = board.defences[d];
      var presets = board.presets[state.mode] || {};
      return { defence: name, rank: null, preset: presets[name] || "", values: values };
    });
    var sign = rank.higher === false ? 1 : -1;
    var base = rows.filter(function (r) { return r.defence === board.baseline; });
    var scored = rows.filter(function (r) { return r.defence !== board.baseline && isFinite(r.values[rank.key]); });
    var unscored = rows.filter(function (r) { return r.defence !== board.baseline && !isFinite(r.values[rank.key]); });
    function byName(a, b) { return a.defence < b.defence ? -1 : (a.defence > b.defence ? 1 : 0); }
    scored.sort(function (a, b) {
      var x = sign * a.values[rank.key], y = sign * b.values[rank.key];
      return x < y ? -1 : (x > y ? 1 : byName(a, b));
    });
    scored.forEach(function (row, i) {
      var previous = i ? scored[i - 1] : null;
      row.rank = previous && previous.values[rank.key] === row.values[rank.key] ? previous.rank : i + 1;
    });
    unscored.sort(byName);
    return base.concat(scored, unscored);
  }
  function td(text, value, cls) {
    var cell = document.createElement("td");
    cell.textContent = text;
    cell.setAttribute("data-value", value);
    if (cls) { cell.className = cls; }
    return cell;
  }
  function renderBoard(state) {
    var table = document.getElementById("leaderboard");
    if (!table || !board) { return; }
    var body = table.tBodies[0];
    while (body.firstChild) { body.removeChild(body.firstChild); }
    compute(state).forEach(function (row) {
      var tr = document.createElement("tr");
      if (row.defence === board.baseline) { tr.className = "baseline"; }
      tr.setAttribute("data-defence", row.defence);
      tr.appendChild(td(row.rank === null ? "\u2014" : String(row.rank), row.rank === null ? "" : String(row.rank), "rank"));
      tr.appendChild(td(row.defence, row.defence, "text"));
      tr.appendChild(td(row.preset, row.preset, "text"));
      tr.appendChild(td(board.types[row.defence] || "", board.types[row.defence] || "", "text"));
      board.columns.forEach(function (c) {
        var v = row.values[c.key];
        tr.appendChild(td(fmt(v, c.digits, c.scale), typeof v === "number" && !isNaN(v) ? String(v) : ""));
      });
      (board.extras || []).forEach(function (e) {
        var iv = e.values[row.defence] || [null, null, null];
        tr.appendChild(td(interval(iv, e.digits), iv[0] === null ? "" : String(iv[0]), "extra"));
      });
      var link = document.createElement("td");
      link.className = "text";
      var href = board.links[row.defence];
      if (href) {
        var a = document.createElement("a");
        a.setAttribute("href", href);
        a.textContent = "JSON";
        link.appendChild(a);
      }
      tr.appendChild(link);
      body.appendChild(tr);
    });
    table.removeAttribute("data-sort-key");
    table.removeAttribute("data-sort-dir");
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    table.setAttribute("data-rank-by", (column(state.rank) || column(board.rank_by)).key);
  }
  function describe(state) {
    if (!board) { return; }
    var rank = column(state.rank) || column(board.rank_by);
    var parts = ["mode: " + state.mode];
    DIMS.slice(1).forEach(function (dim) { parts.push(dim + ": " + (state[dim] || "all")); });
    var line = document.getElementById("selection");
    if (line) {
      line.textContent = "Showing " + parts.join(" \u00b7 ") + " \u00b7 ranked by " + rank.label +
        (rank.higher === false ? " (lower is better)" : " (higher is better)");
    }
    var note = document.getElementById("metric-direction");
    if (note) {
      var higher = state.metric ? board.directions[state.metric] : undefined;
      note.textContent = higher === false
        ? state.metric + " is a lower-is-better metric (a lower score means better quality). SROCC and PLCC are " +
          "computed on its negated score and D, R and Gain do not depend on the direction, so every column's " +
          "arrow holds as shown."
        : (higher === true ? state.metric + " is a higher-is-better metric." : "");
      note.hidden = higher === undefined;
    }
  }
  function matches(element, state) {
    for (var i = 0; i < DIMS.length; i++) {
      var value = element.getAttribute("data-f-" + DIMS[i]);
      if (value !== null && state[DIMS[i]] !== "" && value !== state[DIMS[i]]) { return false; }
    }
    return true;
  }
  function applyFilters(state) {
    var rows = document.querySelectorAll("table.filterable tbody tr");
    for (var i = 0; i < rows.length; i++) { rows[i].hidden = !matches(rows[i], state); }
    var blocks = document.querySelectorAll("section[data-filtered], figure[data-filtered]");
    for (var j = 0; j < blocks.length; j++) { blocks[j].hidden = !matches(blocks[j], state); }
  }
  function writeHash(extra) {
    var state = selection(), parts = [];
    DIMS.concat(["rank"]).forEach(function (dim) {
      var select = document.getElementById("filter-" + dim);
      if (select && select.value !== select.getAttribute("data-default")) {
        parts.push(encodeURIComponent(dim) + "=" + encodeURIComponent(state[dim]));
      }
    });
    if (extra) { parts.push(extra); }
    try { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); }
    catch (error) { /* history may be unavailable for file:// pages in some browsers */ }
  }
  function refresh() {
    var state = selection();
    renderBoard(state);
    describe(state);
    applyFilters(state);
    document.body.setAttribute("data-view", JSON.stringify(state));
  }

  // ---------------------------------------------------------------- hash, clicks, start
  function applyHash() {
    var params = parseHash();
    DIMS.concat(["rank"]).forEach(function (dim) {
      var select = document.getElementById("filter-" + dim);
      if (!select) { return; }
      var wanted = dim in params ? params[dim] : select.getAttribute("data-default");
      var known = Array.prototype.some.call(select.options, function (o) { return o.value === wanted; });
      select.value = known ? wanted : select.getAttribute("data-default");
    });
    refresh();
    if (!params.sort) { return; }
    var desc = params.desc === "1" || params.desc === "true";
    var tables = document.querySelectorAll("table.sortable");
    for (var i = 0; i < tables.length; i++) {
      if (params.table && tables[i].id !== params.table) { continue; }
      sortTable(tables[i], params.sort, desc);
    }
  }
  function onClick(event) {
    var th = event.target.closest("th[data-key]");
    if (!th) { return; }
    var table = th.closest("table");
    var key = th.getAttribute("data-key");
    var desc = table.getAttribute("data-sort-key") === key && table.getAttribute("data-sort-dir") === "asc";
    sortTable(table, key, desc);
    writeHash("table=" + encodeURIComponent(table.id) + "&sort=" + encodeURIComponent(key) + "&desc=" + (desc ? "1" : "0"));
  }
  function onFilter() {
    refresh();
    writeHash("");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("board-data");
    board = data ? JSON.parse(data.textContent) : null;
    var tables = document.querySelectorAll("table.sortable");
    for (var i = 0; i < tables.length; i++) { tables[i].tHead.addEventListener("click", onClick); }
    var form = document.getElementById("filters");
    if (form) {
      form.addEventListener("change", onFilter);
      form.addEventListener("reset", function () { setTimeout(onFilter, 0); });
    }
    applyHash();
    document.body.setAttribute("data-ready", "1");
  });
  window.addEventListener("hashchange", applyHash);
  window.iqaBenchSort = sortTable;
  window.iqaBenchRefresh = refresh;
})();
