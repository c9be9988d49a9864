// tokenaudit report: sortable tables, team and name filters, and per-developer drill-down charts drawn
// from the inline JSON when a drill-down opens. No network, no library: everything is in this page.
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("drilldown-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
  var TOKENS = "#0072B2", OUTCOME = "#D55E00", HEADLESS = "#E69F00", UNKNOWN = "#999999";

  function el(name, attributes, parent, title) {
    var node = document.createElementNS(SVG, name);
    for (var key in attributes) node.setAttribute(key, attributes[key]);
    if (title) {
      var tip = document.createElementNS(SVG, "title");
      tip.textContent = title;
      node.appendChild(tip);
    }
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, value, anchor) {
    var node = el("text", { x: x, y: y, "font-size": 10, "text-anchor": anchor || "start", fill: "#333" }, parent);
    node.textContent = value;
    return node;
  }
  function chart(width, height, label) {
    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img" });
    el("title", {}, svg).textContent = label;
    return svg;
  }
  function fmt(n) { return Number(n).toLocaleString("en"); }
  // About three significant figures, as tokenaudit.numbers.readable writes them: 43.6, 23.0, 8.95, 1,234.
  function decimals(n) { var m = Math.abs(n); return m >= 100 ? 0 : m >= 10 ? 1 : 2; }
  function readable(n) {
    var digits = n === Math.round(n) ? 0 : decimals(Number(n.toFixed(decimals(n))));
    var text = Number(n).toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    return /^-[0.]*$/.test(text) ? text.slice(1) : text;
  }

  // Sorting: a header click sorts its table by that column (numbers by value, text alphabetically).
  function sortBy(header) {
    var table = header.closest("table"), body = table.tBodies[0];
    var column = Array.prototype.indexOf.call(header.parentNode.children, header);
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(header.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    function key(row) {
      var cell = row.cells[column], value = cell.getAttribute("data-v");
      return value !== null ? parseFloat(value) : cell.textContent.trim().toLowerCase();
    }
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;  // numbers before text ("insufficient data")
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("th[data-sortable]").forEach(function (header) {
    header.addEventListener("click", function () { sortBy(header); });
  });

  // Filters: the team and the name search hide every person-row and drill-down that does not match.
  var team = document.getElementById("team-filter"), name = document.getElementById("name-filter");
  function filter() {
    var wanted = team.value, needle = name.value.trim().toLowerCase(), shown = 0, total = 0;
    document.querySelectorAll("[data-name]").forEach(function (node) {
      var visible = (wanted === "*" || node.getAttribute("data-team") === wanted) &&
        node.getAttribute("data-name").indexOf(needle) >= 0;
      node.hidden = !visible;
      if (node.tagName === "TR") { total += 1; shown += visible ? 1 : 0; }
    });
    document.getElementById("shown").textContent = shown + " of " + total + " developers shown";
  }
  team.addEventListener("change", filter);
  name.addEventListener("input", filter);

  // Drill-down: weekly tokens against outcomes, hour-of-week per week, session timeline.
  function weekly(person) {
    var w = 52, height = 150, left = 46, width = left + data.weeks.length * w + 40;
    var svg = chart(width, height + 40, person.name + ": tokens per week (bars)" +
      (person.outcomes ? " and outcome score per week (dots)" : ""));
    var most = Math.max.apply(null, person.tokens.concat([1]));
    var best = person.outcomes ? Math.max.apply(null, person.outcomes.concat([1])) : 1;
    var worst = person.outcomes ? Math.min.apply(null, person.outcomes.concat([0])) : 0;  // reverts can go below 0
    text(svg, 2, 10, "tokens (M)");
    text(svg, 2, 22, fmt((most / 1e6).toFixed(1)));
    data.weeks.forEach(function (week, i) {
      var h = person.tokens[i] / most * (height - 30), x = left + i * w;
      el("rect", { x: x, y: height - h, width: w - 12, height: h, fill: TOKENS, "class": "bar" }, svg,
        "week of " + week + ": " + fmt(person.tokens[i]) + " tokens");
      text(svg, x, height + 14, week.slice(5));
      if (person.outcomes) {
        var y = height - (person.outcomes[i] - worst) / (best - worst) * (height - 30);
        el("circle", { cx: x + (w - 12) / 2, cy: y, r: 5, fill: OUTCOME, "class": "point" }, svg,
          "week of " + week + ": outcome score " + readable(person.outcomes[i]));
      }
    });
    if (person.outcomes) text(svg, width - 2, 10, "outcome " + readable(worst) + " to " + readable(best), "end");
    return svg;
  }
  function heat(person) {
    var cell = 9, rowHeight = 7 * cell + 14, weeks = Object.keys(person.hours), most = 1;
    weeks.forEach(function (key) {
      for (var k = 0; k < 168; k += 1) most = Math.max(most, data.alphabet.indexOf(person.hours[key].charAt(k)));
    });
    var svg = chart(40 + 24 * cell + 10, Math.max(1, weeks.length) * rowHeight + 16,
      person.name + ": active minutes by hour of week, one block per week (darker = more minutes)");
    text(svg, 40 + 24 * cell + 8, 10, "max " + most + " min", "end");
    weeks.forEach(function (key, b) {
      var top = b * rowHeight + 12, codes = person.hours[key];
      text(svg, 0, top - 2, "week of " + data.weeks[+key]);
      for (var k = 0; k < 168; k += 1) {
        var minutes = data.alphabet.indexOf(codes.charAt(k));
        if (!minutes) continue;
        el("rect", { x: 40 + (k % 24) * cell, y: top + Math.floor(k / 24) * cell, width: cell - 1, height: cell - 1,
          fill: TOKENS, "fill-opacity": (0.15 + 0.85 * minutes / most).toFixed(2) }, svg,
          DAYS[Math.floor(k / 24)] + " " + (k % 24) + ":00, week of " + data.weeks[+key] + ": " + minutes + " active min");
      }
      for (var d = 0; d < 7; d += 1) text(svg, 12, top + d * cell + 8, DAYS[d]).setAttribute("font-size", 7);
    });
    for (var hour = 0; hour < 24; hour += 6) text(svg, 40 + hour * cell, Math.max(1, weeks.length) * rowHeight + 12, hour + "h");
    return svg;
  }
  // Session timeline: one row a day, a bar per session, coloured by who drove it (the headless_work rule).
  var KINDS = [[false, "interactive", TOKENS], [true, "headless", HEADLESS], [null, "not judged", UNKNOWN]];
  function sessions(person) {
    var days = data.weeks.length * 7, row = 6, left = 60, scale = 14, top = 16;
    var svg = chart(left + 24 * scale + 10, days * row + top + 24, person.name + ": sessions by day and time of day, " +
      "interactive and headless (" + person.sessions.length + " sessions)");
    var x = left;
    KINDS.forEach(function (kind) {
      if (!person.sessions.some(function (s) { return s[4] === kind[0]; })) return;
      el("rect", { x: x, y: 2, width: 10, height: 8, fill: kind[2] }, svg);
      text(svg, x + 14, 10, kind[1]);
      x += 14 + kind[1].length * 6 + 12;  // about 6 px a character at 10 px
    });
    for (var d = 0; d < days; d += 7) text(svg, 0, top + d * row + 8, data.weeks[d / 7].slice(5));
    for (var hour = 0; hour <= 24; hour += 6) {
      el("line", { x1: left + hour * scale, x2: left + hour * scale, y1: top, y2: top + days * row, stroke: "#ddd" }, svg);
      text(svg, left + hour * scale, top + days * row + 14, hour + "h", "middle");
    }
    person.sessions.forEach(function (s) {
      var day = Math.floor(s[0] / 1440), from = s[0] % 1440, to = Math.min(from + Math.max(s[1] - s[0], 4), 1440);
      var kind = KINDS.filter(function (k) { return k[0] === s[4]; })[0] || KINDS[2];
      el("rect", { x: left + from / 60 * scale, y: top + day * row, width: Math.max((to - from) / 60 * scale, 1.5),
        height: row - 1, fill: kind[2], "class": "session " + kind[1].replace(" ", "-") }, svg,
        kind[1] + " session, day " + (day + 1) + " " + Math.floor(from / 60) + ":" +
        ("0" + from % 60).slice(-2) + ", " + (s[1] - s[0]) + " min, " + fmt(s[2]) + " requests, " + fmt(s[3]) + " tokens");
    });
    return svg;
  }
  function table(person) {
    var rows = data.weeks.map(function (week, i) {
      return "<tr><td>" + week + "</td><td class='n'>" + fmt(person.tokens[i]) + "</td>" +
        (person.outcomes ? "<td class='n'>" + readable(person.outcomes[i]) + "</td>" : "") + "</tr>";
    }).join("");
    var wrap = document.createElement("div");
    wrap.className = "scroll";
    wrap.innerHTML = "<table class='weekly'><thead><tr><th>week</th><th>tokens</th>" +
      (person.outcomes ? "<th>outcome score</th>" : "") + "</tr></thead><tbody>" + rows + "</tbody></table>";
    return wrap;
  }
  function figure(svg, caption) {
    var node = document.createElement("figure"), note = document.createElement("figcaption");
    note.textContent = caption;
    node.appendChild(svg);
    node.appendChild(note);
    return node;
  }
  function draw(details) {
    var target = details.querySelector(".drawn");
    if (target.childNodes.length) return;
    var person = data.people[+details.getAttribute("data-index")];
    var box = document.createElement("div");
    box.className = "charts";
    box.appendChild(figure(weekly(person), "Weekly tokens" + (person.outcomes ? " and outcome score" : "") +
      ". Hover a bar or dot for its numbers."));
    box.appendChild(figure(heat(person), "Active minutes by hour of week, week by week (not pooled)."));
    box.appendChild(figure(sessions(person), "Sessions by day and time of day (one row a day; hover a bar). " +
      "Headless: no person's prompt after the opener (an agent or script ran it). " + (person.split || "No sessions.")));
    target.appendChild(box);
    target.appendChild(table(person));
  }
  document.querySelectorAll("details.dev").forEach(function (details) {
    details.addEventListener("toggle", function () { if (details.open) draw(details); });
  });
  function openFromHash() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") {
      target.open = true;
      draw(target);
      target.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openFromHash);
  document.querySelectorAll("a.dev-link").forEach(function (link) {
    link.addEventListener("click", function () { setTimeout(openFromHash, 0); });
  });
  openFromHash();
  filter();
})();
