
BprobabilitiesJ(¤+”=›K>ÒÉ=ró×=hÉê=¥b¤=×d!>¶^Ê=2§=nù‹=